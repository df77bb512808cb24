/*
 * ABI of the established-connection hooks: sockops (bpf/progs/sock_ops.bpf.c) hands each
 * redirected connection's original destination to the proxy and puts loopback sockets of
 * enrolled netns into a sockhash; sk_msg (bpf/progs/sock_accel.bpf.c) moves messages between
 * the two ends of such a loopback connection. Shared with C++ like every bpf/abi header.
 */
#pragma once

#include "common.h"
#include "sock_connect.h"

/* ---- map identifiers --------------------------------------------------------------------- */

/*
 * HASH  struct weft_conn_key -> struct weft_orig_dst. Filled by sockops when a redirected
 * socket is established; the proxy takes (looks up and deletes) the entry on accept, keyed by
 * the netns cookie of its listener and the accepted socket's peer address. sockops deletes a
 * leftover entry when the client socket reaches TCP_CLOSE.
 */
#define WEFT_MAP_CONN_DST weft_conndst_v1
/* SOCKHASH  struct weft_sock_key -> socket. Loopback sockets of enrolled netns. */
#define WEFT_MAP_SOCKS weft_socks_v1
/* PERCPU_ARRAY  __u32 enum weft_ops_verdict -> __u64 count. */
#define WEFT_MAP_OPS_COUNTERS weft_cnt_ops_v1
/* PERCPU_ARRAY  __u32 enum weft_msg_verdict -> __u64 count. */
#define WEFT_MAP_MSG_COUNTERS weft_cnt_msg_v2
/* SK_STORAGE  per sending socket: struct weft_msg_state (lib/sock_accel.h), sk_msg's own. */
#define WEFT_MAP_MSG_STATE weft_msgst_v1

/* ---- limits ------------------------------------------------------------------------------ */

/* Redirected connections not yet accepted by the proxy (plus ones it never accepts). */
#define WEFT_CONN_DST_MAX 65536
/* Accelerated loopback sockets (two per app<->proxy connection). */
#define WEFT_SOCKS_MAX 65536

/* ---- verdicts ---------------------------------------------------------------------------- */

/*
 * What sockops did; the index into WEFT_MAP_OPS_COUNTERS. Append-only. An established event
 * counts one of NOT_ENROLLED, or one acceleration verdict (ACCEL_*, NOT_LOOPBACK), plus, for
 * an active socket that connect4/6 redirected, one CONN_DST_* verdict.
 */
enum weft_ops_verdict {
	WEFT_OPS_NOT_ENROLLED = 0,	/* established socket of a netns outside the mesh */
	WEFT_OPS_CONN_DST_RECORDED = 1, /* original destination handed to the proxy */
	WEFT_OPS_CONN_DST_MAP_FULL = 2, /* could not: the proxy will close the connection */
	WEFT_OPS_CONN_DST_ERROR = 3,	/* other update failure: same */
	WEFT_OPS_CONN_DST_EXPIRED = 4,	/* the client closed before the proxy took the entry */
	WEFT_OPS_ACCEL_ADDED = 5,	/* a loopback socket went into WEFT_MAP_SOCKS */
	WEFT_OPS_ACCEL_ERROR = 6,	/* the sockhash update failed (full): not accelerated */
	WEFT_OPS_ACCEL_OFF = 7,	   /* loopback, but acceleration is off (setting or netns flag) */
	WEFT_OPS_NOT_LOOPBACK = 8, /* enrolled, not a loopback connection: nothing to accelerate */
	WEFT_OPS_VERDICT_COUNT
};

/* What sk_msg did with one sendmsg(); the index into WEFT_MAP_MSG_COUNTERS. Append-only. */
enum weft_msg_verdict {
	WEFT_MSG_REDIRECTED = 0, /* moved straight to the peer socket's receive queue */
	WEFT_MSG_NO_PEER = 1,	 /* the peer is not in WEFT_MAP_SOCKS: sent through TCP as usual */
	WEFT_MSG_PEER_FULL = 2,	 /* the peer's unread redirected bytes passed its limit: sent
				    through TCP, which pushes back; the direction stays on TCP */
	WEFT_MSG_ON_TCP = 3,	 /* on TCP since PEER_FULL, until the peer has read everything */
	WEFT_MSG_VERDICT_COUNT
};

/* ---- map layouts ------------------------------------------------------------------------- */

/*
 * WEFT_MAP_CONN_DST key: the client end of a redirected connection as the proxy sees it on
 * accept (getpeername of the accepted socket) plus the netns both ends live in. Two pods can
 * both have 127.0.0.1:40000 -> 127.0.0.1:15001; the netns cookie keeps them apart.
 */
struct weft_conn_key {
	__u64 netns_cookie;	  /* SO_NETNS_COOKIE of the proxy's listener */
	__u8 addr[WEFT_ADDR_LEN]; /* client address (::ffff:127.0.0.1 or ::1) */
	__be16 port;		  /* client port, network byte order */
	__u16 pad0;		  /* zero */
	__u32 pad1;		  /* zero */
};
WEFT_ABI_SIZE(struct weft_conn_key, 32);
WEFT_ABI_OFFSET(struct weft_conn_key, addr, 8);
WEFT_ABI_OFFSET(struct weft_conn_key, port, 24);

/* WEFT_MAP_SOCKS key: one end of a loopback connection, from that end's point of view. */
struct weft_sock_key {
	__u64 netns_cookie;
	__u8 local_addr[WEFT_ADDR_LEN];
	__u8 remote_addr[WEFT_ADDR_LEN];
	__be16 local_port;  /* network byte order */
	__be16 remote_port; /* network byte order */
	__u32 pad;	    /* zero */
};
WEFT_ABI_SIZE(struct weft_sock_key, 48);
WEFT_ABI_OFFSET(struct weft_sock_key, local_port, 40);

/* ---- load-time defaults for .rodata ------------------------------------------------------ */

/* cfg_sockmap_accel: put loopback sockets into WEFT_MAP_SOCKS (the sk_msg off switch is not
 * attaching sock_accel; this one also keeps sockets out of the sockhash). */
#define WEFT_SOCKMAP_ACCEL_DEFAULT 1
