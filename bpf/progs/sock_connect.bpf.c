/*
 * Outbound capture, the first step of the data path (docs/bpf.md, DESIGN "The data path"):
 * attached at the cgroup v2 directory that holds the pods, these programs send connect()s from
 * enrolled netns to mesh destinations to the node proxy at 127.0.0.1:cfg_outbound_port (or
 * [::1]) in the same netns, remembering the original destination per socket cookie.
 *
 * Entries are thin: they read the context, call the core in lib/sock_redirect.h, count the
 * verdict and map the core's errno to the cgroup return code.
 */
#include "lib/common.h"
#include "lib/sock_maps.h"
#include "lib/sock_redirect.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline bool weft_redirected(__u32 verdict)
{
	return verdict == WEFT_SOCK_REDIRECTED || verdict == WEFT_SOCK_REDIRECTED_WORKLOAD;
}

SEC("cgroup/connect4")
int weft_connect4(struct bpf_sock_addr *ctx)
{
	struct weft_sock_dst dst = {};
	__u32 verdict = WEFT_SOCK_NOT_MESH_DEST;
	__u32 *w = (__u32 *)dst.addr;
	int err;

	weft_addr_from4(dst.addr, ctx->user_ip4);
	dst.port = (__be16)ctx->user_port;

	err = weft_sock_connect(ctx, &dst, &verdict);
	weft_count(&WEFT_MAP_SOCK_COUNTERS, verdict);
	if (err)
		return WEFT_SYS_REJECT;
	if (weft_redirected(verdict)) {
		ctx->user_ip4 = w[3];
		ctx->user_port = dst.port;
	}
	return WEFT_SYS_PROCEED;
}

/*
 * AF_INET6 sockets: native IPv6 destinations (Service VIPs and pods of a dual-stack mesh), and
 * v4-mapped ones (::ffff:a.b.c.d), which would otherwise be a way around the IPv4 capture. The
 * key form is the same 16 bytes either way; v4-mapped goes to ::ffff:127.0.0.1, native to ::1.
 */
SEC("cgroup/connect6")
int weft_connect6(struct bpf_sock_addr *ctx)
{
	struct weft_sock_dst dst = {};
	__u32 verdict = WEFT_SOCK_NOT_MESH_DEST;
	__u32 *w = (__u32 *)dst.addr;
	int err;

	weft_addr_from6(dst.addr, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			ctx->user_ip6[3]);
	dst.port = (__be16)ctx->user_port;

	err = weft_sock_connect(ctx, &dst, &verdict);
	weft_count(&WEFT_MAP_SOCK_COUNTERS, verdict);
	if (err)
		return WEFT_SYS_REJECT;
	if (weft_redirected(verdict)) {
		ctx->user_ip6[0] = w[0];
		ctx->user_ip6[1] = w[1];
		ctx->user_ip6[2] = w[2];
		ctx->user_ip6[3] = w[3];
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
