/*
 * The sockops core: on an established connection of an enrolled netns, hand the original
 * destination of a redirected socket to the proxy (weft_conndst_v1) and put loopback sockets
 * into the sockhash that sk_msg redirects on (weft_socks_v1).
 */
#pragma once

#include "lib/common.h"
#include "lib/conn_maps.h"
#include "lib/sock_maps.h"

const volatile __u8 cfg_sockmap_accel = WEFT_SOCKMAP_ACCEL_DEFAULT;

#define WEFT_OPS_NONE WEFT_OPS_VERDICT_COUNT /* "no verdict of this kind" */

struct weft_ops_result {
	__u32 conn_dst; /* WEFT_OPS_CONN_DST_* or WEFT_OPS_NONE */
	__u32 accel;	/* WEFT_OPS_ACCEL_*, WEFT_OPS_NOT_LOOPBACK, WEFT_OPS_NOT_ENROLLED or NONE */
};

/* The key of this socket's own end, as sockops and sk_msg both build it. */
static __always_inline void weft_conn_key_of(struct bpf_sock_ops *skops, __u64 netns_cookie,
					     struct weft_conn_key *key, struct weft_sock_key *sock)
{
	sock->netns_cookie = netns_cookie;
	WEFT_CTX_ADDRS(skops, sock->local_addr, sock->remote_addr);
	sock->local_port = WEFT_CTX_LOCAL_PORT(skops);
	sock->remote_port = WEFT_CTX_REMOTE_PORT(skops);
	key->netns_cookie = netns_cookie;
	__builtin_memcpy(key->addr, sock->local_addr, WEFT_ADDR_LEN);
	key->port = sock->local_port;
}

/*
 * ACTIVE_ESTABLISHED or PASSIVE_ESTABLISHED of a TCP socket. A socket connect4/6 redirected
 * (its cookie is in weft_odst_v1) is an app's connection to the proxy: its local address and
 * port are what the proxy's accepted socket sees as its peer, in the same netns.
 */
static __always_inline void weft_ops_established(struct bpf_sock_ops *skops, bool active,
						 struct weft_ops_result *res)
{
	__u64 netns_cookie = bpf_get_netns_cookie(skops);
	struct weft_enrolled_netns *netns;
	struct weft_sock_key sock = {};
	struct weft_conn_key key = {};
	struct weft_orig_dst *orig;
	__u64 sock_cookie;
	long err;

	res->conn_dst = WEFT_OPS_NONE;
	netns = bpf_map_lookup_elem(&WEFT_MAP_ENROLLED_NETNS, &netns_cookie);
	if (!netns) {
		res->accel = WEFT_OPS_NOT_ENROLLED;
		return;
	}
	weft_conn_key_of(skops, netns_cookie, &key, &sock);

	if (active) {
		sock_cookie = bpf_get_socket_cookie(skops);
		orig = bpf_map_lookup_elem(&WEFT_MAP_ORIG_DST, &sock_cookie);
		if (orig) {
			err = bpf_map_update_elem(&WEFT_MAP_CONN_DST, &key, orig, BPF_ANY);
			if (!err) {
				res->conn_dst = WEFT_OPS_CONN_DST_RECORDED;
				/* Call back on state changes, to drop an entry never taken. */
				bpf_sock_ops_cb_flags_set(skops,
							  skops->bpf_sock_ops_cb_flags |
								  BPF_SOCK_OPS_STATE_CB_FLAG);
			} else {
				res->conn_dst = err == -E2BIG ? WEFT_OPS_CONN_DST_MAP_FULL
							      : WEFT_OPS_CONN_DST_ERROR;
			}
		}
	}

	/*
	 * Loopback: the peer is this netns's loopback or this very address (a pod talking to its
	 * own IP, the proxy reaching the app inbound), so both ends live in this netns and are
	 * seen here, each under its own key.
	 */
	if (!weft_addr_is_loopback(sock.remote_addr) &&
	    !weft_addr_equal(sock.remote_addr, sock.local_addr)) {
		res->accel = WEFT_OPS_NOT_LOOPBACK;
		return;
	}
	if (!cfg_sockmap_accel || (netns->flags & WEFT_NETNS_F_NO_ACCEL)) {
		res->accel = WEFT_OPS_ACCEL_OFF;
		return;
	}
	err = bpf_sock_hash_update(skops, &WEFT_MAP_SOCKS, &sock, BPF_ANY);
	res->accel = err ? WEFT_OPS_ACCEL_ERROR : WEFT_OPS_ACCEL_ADDED;
}

/* TCP_CLOSE of a socket whose original destination was recorded: drop what is left of it. */
static __always_inline void weft_ops_closed(struct bpf_sock_ops *skops, struct weft_ops_result *res)
{
	struct weft_sock_key sock = {};
	struct weft_conn_key key = {};

	res->accel = WEFT_OPS_NONE;
	res->conn_dst = WEFT_OPS_NONE;
	weft_conn_key_of(skops, bpf_get_netns_cookie(skops), &key, &sock);
	if (bpf_map_delete_elem(&WEFT_MAP_CONN_DST, &key) == 0)
		res->conn_dst = WEFT_OPS_CONN_DST_EXPIRED;
}
