/*
 * sk_msg on weft_socks_v1 (docs/bpf.md "sock_accel"): same-node acceleration of the loopback
 * hops app <-> proxy. Optional: the agent attaches it only with sockmap acceleration on.
 */
#include "lib/common.h"
#include "lib/sock_accel.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("sk_msg")
int weft_sk_msg(struct sk_msg_md *msg)
{
	weft_count(&WEFT_MAP_MSG_COUNTERS, weft_msg_redirect(msg));
	/* Never SK_DROP: a message that cannot be redirected still goes through TCP. */
	return SK_PASS;
}
