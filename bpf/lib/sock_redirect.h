/*
 * The decision behind cgroup/connect{4,6}: capture a connect() from an enrolled netns to a
 * mesh destination by recording the original destination and sending the socket to the node
 * proxy's outbound listener in the same netns.
 */
#pragma once

#include "lib/common.h"
#include "lib/sock_maps.h"

struct weft_sock_dst4 {
	__be32 addr4; /* network byte order */
	__be16 port;  /* network byte order */
};

/*
 * Decides what happens to a connect() of the socket behind ctx to *dst (IPv4; for an AF_INET6
 * socket, the address inside a v4-mapped destination, or NULL for a native IPv6 one).
 *
 * Returns 0 to let connect() proceed, after rewriting *dst to the proxy when *verdict is
 * WEFT_SOCK_REDIRECTED, or a negative errno to refuse it. Every path sets *verdict.
 *
 * Order matters for the counters: enrollment first, so traffic of pods outside the mesh only
 * costs one lookup and is counted as such; the loop guard only after the destination matched,
 * so WEFT_SOCK_LOOP_GUARD counts proxy connections that would otherwise have looped.
 */
static __always_inline int weft_sock_connect(struct bpf_sock_addr *ctx, struct weft_sock_dst4 *dst,
					     __u32 *verdict)
{
	__u64 netns_cookie = bpf_get_netns_cookie(ctx);
	struct weft_service_key svc_key = {};
	struct weft_orig_dst orig = {};
	struct bpf_sock *sk;
	__u64 sock_cookie;
	long err;

	if (!bpf_map_lookup_elem(&WEFT_MAP_ENROLLED_NETNS, &netns_cookie)) {
		*verdict = WEFT_SOCK_NOT_ENROLLED;
		return 0;
	}

	if (ctx->protocol != IPPROTO_TCP) {
		*verdict = WEFT_SOCK_NOT_TCP;
		return 0;
	}

	/* Native IPv6: weft_services_v1 has IPv4 keys only, so it cannot be a mesh destination. */
	if (!dst) {
		*verdict = WEFT_SOCK_NOT_MESH_DEST;
		return 0;
	}

	svc_key.addr4 = dst->addr4;
	svc_key.port = dst->port;
	svc_key.proto = IPPROTO_TCP;
	if (!bpf_map_lookup_elem(&WEFT_MAP_SERVICES, &svc_key)) {
		*verdict = WEFT_SOCK_NOT_MESH_DEST;
		return 0;
	}

	/* The proxy marks its sockets before connect(); they go where they asked to go. */
	sk = ctx->sk;
	if (sk && sk->mark == cfg_proxy_mark) {
		*verdict = WEFT_SOCK_LOOP_GUARD;
		return 0;
	}

	/*
	 * Record before rewriting: a socket sent to the proxy without its destination could only
	 * be dropped there, or worse, forwarded by a guess. If the record fails, refuse the
	 * connect (EPERM) rather than let it bypass the proxy and its policy.
	 */
	sock_cookie = bpf_get_socket_cookie(ctx);
	orig.addr4 = dst->addr4;
	orig.port = dst->port;
	err = bpf_map_update_elem(&WEFT_MAP_ORIG_DST, &sock_cookie, &orig, BPF_ANY);
	if (err) {
		*verdict = err == -E2BIG ? WEFT_SOCK_ORIG_DST_MAP_FULL : WEFT_SOCK_ORIG_DST_ERROR;
		return -EPERM;
	}

	dst->addr4 = bpf_htonl(0x7f000001); /* 127.0.0.1, inside the socket's own netns */
	dst->port = bpf_htons(cfg_outbound_port);
	*verdict = WEFT_SOCK_REDIRECTED;
	return 0;
}

/* Frees the socket's destination record when the socket is released (close, exit). */
static __always_inline void weft_orig_dst_forget(struct bpf_sock *sk)
{
	__u64 sock_cookie;

	/* Only TCP sockets are ever redirected; skip the lookup for everything else. */
	if (sk->protocol != IPPROTO_TCP || (sk->family != AF_INET && sk->family != AF_INET6))
		return;
	sock_cookie = bpf_get_socket_cookie(sk);
	bpf_map_delete_elem(&WEFT_MAP_ORIG_DST, &sock_cookie);
}
