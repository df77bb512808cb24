/*
 * The decision behind cgroup/connect{4,6}: capture a connect() from an enrolled netns to a
 * mesh destination by recording the original destination and sending the socket to the node
 * proxy's outbound listener in the same netns.
 */
#pragma once

#include "lib/common.h"
#include "lib/sock_maps.h"

/* Load-time settings: set through skel->rodata before load, constant for the verifier. */
const volatile __u16 cfg_outbound_port = WEFT_OUTBOUND_PORT; /* host byte order */
const volatile __u32 cfg_proxy_mark = WEFT_PROXY_MARK_DEFAULT;

/* A connect() destination: 16-byte address (IPv4 v4-mapped) and network-order port. */
struct weft_sock_dst {
	__u8 addr[WEFT_ADDR_LEN];
	__be16 port;
};

/*
 * Finds the mesh entry for dst: {addr, port} (a Service VIP:port), else {addr, 0} (a mesh
 * workload IP, every port). NULL when dst is not in the mesh.
 */
static __always_inline struct weft_service_value *weft_mesh_lookup(const struct weft_sock_dst *dst)
{
	struct weft_service_key key = {};
	struct weft_service_value *value;

	__builtin_memcpy(key.addr, dst->addr, WEFT_ADDR_LEN);
	key.port = dst->port;
	key.proto = IPPROTO_TCP;
	value = bpf_map_lookup_elem(&WEFT_MAP_SERVICES, &key);
	if (value)
		return value;
	key.port = 0;
	return bpf_map_lookup_elem(&WEFT_MAP_SERVICES, &key);
}

/*
 * Decides what happens to a connect() of the socket behind ctx to *dst.
 *
 * Returns 0 to let connect() proceed, after rewriting *dst to the proxy (127.0.0.1, or ::1 for a
 * native IPv6 destination) when *verdict is WEFT_SOCK_REDIRECTED[_WORKLOAD], or a negative errno
 * to refuse it. Every path sets *verdict.
 *
 * Order matters for the counters: enrollment first, so traffic of pods outside the mesh only
 * costs one lookup and is counted as such; the loop guard only after the destination matched,
 * so WEFT_SOCK_LOOP_GUARD counts proxy connections that would otherwise have looped.
 */
static __always_inline int weft_sock_connect(struct bpf_sock_addr *ctx, struct weft_sock_dst *dst,
					     __u32 *verdict)
{
	__u64 netns_cookie = bpf_get_netns_cookie(ctx);
	struct weft_service_value *svc;
	struct weft_orig_dst orig = {};
	struct bpf_sock *sk;
	__u64 sock_cookie;
	bool v4;
	long err;

	if (!bpf_map_lookup_elem(&WEFT_MAP_ENROLLED_NETNS, &netns_cookie)) {
		*verdict = WEFT_SOCK_NOT_ENROLLED;
		return 0;
	}

	if (ctx->protocol != IPPROTO_TCP) {
		*verdict = WEFT_SOCK_NOT_TCP;
		return 0;
	}

	svc = weft_mesh_lookup(dst);
	if (!svc) {
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
	__builtin_memcpy(orig.addr, dst->addr, WEFT_ADDR_LEN);
	orig.port = dst->port;
	orig.flags = (__u16)svc->flags;
	orig.service_id = svc->service_id;
	err = bpf_map_update_elem(&WEFT_MAP_ORIG_DST, &sock_cookie, &orig, BPF_ANY);
	if (err) {
		*verdict = err == -E2BIG ? WEFT_SOCK_ORIG_DST_MAP_FULL : WEFT_SOCK_ORIG_DST_ERROR;
		return -EPERM;
	}

	/* The socket's own netns's loopback, where the agent has opened the proxy listener. */
	v4 = weft_addr_is_v4(dst->addr);
	if (v4)
		weft_addr_from4(dst->addr, bpf_htonl(0x7f000001));
	else
		weft_addr_from6(dst->addr, 0, 0, 0, bpf_htonl(1));
	dst->port = bpf_htons(cfg_outbound_port);
	*verdict = (svc->flags & WEFT_SVC_F_WORKLOAD) && !(svc->flags & WEFT_SVC_F_VIP)
			   ? WEFT_SOCK_REDIRECTED_WORKLOAD
			   : WEFT_SOCK_REDIRECTED;
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
