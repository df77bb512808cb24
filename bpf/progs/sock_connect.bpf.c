/*
 * Outbound capture, the first step of the data path (docs/bpf.md, DESIGN "The data path"):
 * attached at the cgroup v2 directory that holds the pods, these programs send connect()s from
 * enrolled netns to mesh destinations to the node proxy at 127.0.0.1:cfg_outbound_port in
 * the same netns, remembering the original destination per socket cookie.
 *
 * Entries are thin: they read the context, call the core in lib/sock_redirect.h, count the
 * verdict and map the core's errno to the cgroup return code.
 */
#include "lib/common.h"
#include "lib/sock_maps.h"
#include "lib/sock_redirect.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int weft_connect4(struct bpf_sock_addr *ctx)
{
	struct weft_sock_dst4 dst = {
		.addr4 = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
	};
	__u32 verdict = WEFT_SOCK_NOT_MESH_DEST;
	int err;

	err = weft_sock_connect(ctx, &dst, &verdict);
	weft_count(&WEFT_MAP_SOCK_COUNTERS, verdict);
	if (err)
		return WEFT_SYS_REJECT;
	if (verdict == WEFT_SOCK_REDIRECTED) {
		ctx->user_ip4 = dst.addr4;
		ctx->user_port = dst.port;
	}
	return WEFT_SYS_PROCEED;
}

/*
 * An AF_INET6 socket can reach an IPv4 service through a v4-mapped address (::ffff:a.b.c.d);
 * without this hook, that would be a way around the mesh. Such connects are captured like
 * IPv4 ones and sent to ::ffff:127.0.0.1.
 */
SEC("cgroup/connect6")
int weft_connect6(struct bpf_sock_addr *ctx)
{
	struct weft_sock_dst4 dst = {};
	__u32 verdict = WEFT_SOCK_NOT_MESH_DEST;
	bool v4_mapped;
	int err;

	v4_mapped = ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 &&
		    ctx->user_ip6[2] == bpf_htonl(0x0000ffff);
	if (v4_mapped) {
		dst.addr4 = ctx->user_ip6[3];
		dst.port = (__be16)ctx->user_port;
	}

	err = weft_sock_connect(ctx, v4_mapped ? &dst : NULL, &verdict);
	weft_count(&WEFT_MAP_SOCK_COUNTERS, verdict);
	if (err)
		return WEFT_SYS_REJECT;
	if (verdict == WEFT_SOCK_REDIRECTED) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = dst.addr4;
		ctx->user_port = dst.port;
	}
	return WEFT_SYS_PROCEED;
}

SEC("cgroup/sock_release")
int weft_sock_release(struct bpf_sock *sk)
{
	weft_orig_dst_forget(sk);
	return 1;
}
