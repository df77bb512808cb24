/*
 * sockops at the cgroup v2 directory holding the pods (docs/bpf.md "sock_ops"): the original
 * destination of each redirected connection for the proxy, keyed by netns cookie and client
 * address; loopback sockets of enrolled netns into the sockhash for sk_msg acceleration.
 */
#include "lib/common.h"
#include "lib/sock_ops.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef BPF_TCP_CLOSE_STATE
#define BPF_TCP_CLOSE_STATE 7 /* BPF_TCP_CLOSE */
#endif

SEC("sockops")
int weft_sockops(struct bpf_sock_ops *skops)
{
	struct weft_ops_result res = {WEFT_OPS_NONE, WEFT_OPS_NONE};

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		weft_ops_established(skops, true, &res);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		weft_ops_established(skops, false, &res);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE_STATE)
			weft_ops_closed(skops, &res);
		break;
	default:
		return 1;
	}
	if (res.conn_dst != WEFT_OPS_NONE)
		weft_count(&WEFT_MAP_OPS_COUNTERS, res.conn_dst);
	if (res.accel != WEFT_OPS_NONE)
		weft_count(&WEFT_MAP_OPS_COUNTERS, res.accel);
	return 1;
}
