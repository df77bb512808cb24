/*
 * sk_lookup, attached to each enrolled pod's netns (docs/bpf.md "inbound_steer"): plaintext
 * from outside the pod goes to the proxy's :15006 listener, where PeerAuthentication decides.
 */
#include "lib/common.h"
#include "lib/inbound_steer.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("sk_lookup")
int weft_inbound_steer(struct bpf_sk_lookup *ctx)
{
	__u32 verdict = WEFT_LOOKUP_NOT_TCP;
	int ret;

	ret = weft_inbound_decide(ctx, &verdict);
	weft_count(&WEFT_MAP_LOOKUP_COUNTERS, verdict);
	/* SK_PASS with an assigned socket delivers to it; without, the normal lookup runs. */
	return ret < 0 ? SK_DROP : SK_PASS;
}
