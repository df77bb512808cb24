/*
 * The sk_msg core: a message sent on one end of an accelerated loopback connection goes
 * straight into the receive queue of the other end, found in the sockhash under the mirrored
 * key (same netns, local and remote swapped).
 *
 * Backpressure. A redirected message is queued on the peer's psock (ingress_msg) and the
 * kernel bounds that queue by nothing but the protocol's global memory: the peer's
 * SO_RCVBUF does not apply, so a sender faster than the peer's reader would queue without
 * limit until sendmsg() fails with ENOMEM. So before redirecting we look at how much the
 * peer has queued and unread (its psock's msg_tot_len); past max(peer SO_RCVBUF,
 * WEFT_ACCEL_MIN_QUEUE) the message goes through TCP instead, which pushes back on the
 * sender as usual [PEER_FULL]. From then on this direction stays on TCP [ON_TCP] until the
 * peer has read everything: the reader drains the psock queue before TCP's receive queue, so
 * order holds as long as nothing is redirected while TCP bytes are unread or in flight.
 * (When a non-blocking sendmsg() cannot push its message into TCP, the kernel keeps the PASS
 * verdict for the socket and stops asking this program: that direction then stays on TCP for
 * the connection's life. A blocking sender comes back here.)
 */
#pragma once

#include "lib/common.h"
#include "lib/conn_maps.h"

#include <bpf/bpf_core_read.h>

/* Below this many queued bytes a redirect is always allowed (the peer's SO_RCVBUF starts
 * small and grows with autotuning; loopback TCP would buffer as much). */
#define WEFT_ACCEL_MIN_QUEUE (1u << 20)

/* Per sending socket: the peer's psock (learned at the first redirect) and the TCP fallback. */
struct weft_msg_state {
	__u64 peer_psock; /* struct sk_psock * of the peer, read-only use through bpf_rdonly_cast */
	__u32 on_tcp;	  /* 1: this direction goes through TCP until the peer has caught up */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct weft_msg_state);
} WEFT_MAP_MSG_STATE SEC(".maps");

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* psock pointers live in sk_user_data with flag bits in the low three bits. */
#define WEFT_SK_USER_DATA_PTRMASK (~7ULL)

static __always_inline struct sk_psock *weft_psock_of(struct sock *sk)
{
	__u64 ud;

	if (!sk)
		return 0;
	ud = (__u64)sk->sk_user_data & WEFT_SK_USER_DATA_PTRMASK;
	if (!ud)
		return 0;
	return bpf_rdonly_cast((void *)ud, bpf_core_type_id_kernel(struct sk_psock));
}

/* True when the peer holds more redirected bytes than it would let TCP buffer. */
static __always_inline bool weft_peer_full(struct sk_psock *peer, __u32 size)
{
	struct sock *psk = peer->sk;
	__u32 limit = WEFT_ACCEL_MIN_QUEUE;
	int rcvbuf;

	if (!psk)
		return false;
	rcvbuf = psk->sk_rcvbuf;
	if (rcvbuf > 0 && (__u32)rcvbuf > limit)
		limit = rcvbuf;
	return peer->msg_tot_len + size > limit;
}

/*
 * True when nothing this socket sent over TCP is still unread by the peer: every byte is
 * acknowledged (so it reached the peer's receive queue) and the peer has read up to what it
 * received, and its psock queue is empty.
 */
static __always_inline bool weft_tcp_drained(struct sk_msg_md *msg, struct sk_psock *peer)
{
	struct sk_msg *m = bpf_rdonly_cast(msg, bpf_core_type_id_kernel(struct sk_msg));
	struct tcp_sock *self, *ptp;

	if (!m->sk || !peer->sk)
		return false;
	self = bpf_rdonly_cast(m->sk, bpf_core_type_id_kernel(struct tcp_sock));
	ptp = bpf_rdonly_cast(peer->sk, bpf_core_type_id_kernel(struct tcp_sock));
	return self->snd_una == self->write_seq && ptp->copied_seq == ptp->rcv_nxt &&
	       peer->msg_tot_len == 0;
}

static __always_inline __u32 weft_msg_redirect(struct sk_msg_md *msg)
{
	struct weft_sock_key peer = {};
	struct weft_msg_state *st = 0;
	struct sk_psock *peer_psock = 0;

	if (msg->sk)
		st = bpf_sk_storage_get(&WEFT_MAP_MSG_STATE, msg->sk, 0,
					BPF_SK_STORAGE_GET_F_CREATE);
	if (st && st->peer_psock) {
		peer_psock = bpf_rdonly_cast((void *)st->peer_psock,
					     bpf_core_type_id_kernel(struct sk_psock));
		if (st->on_tcp) {
			if (!weft_tcp_drained(msg, peer_psock))
				return WEFT_MSG_ON_TCP;
			st->on_tcp = 0;
		}
		if (weft_peer_full(peer_psock, msg->size)) {
			st->on_tcp = 1;
			return WEFT_MSG_PEER_FULL;
		}
	}

	peer.netns_cookie = bpf_get_netns_cookie(msg);
	/* The peer's local end is our remote end. */
	WEFT_CTX_ADDRS(msg, peer.remote_addr, peer.local_addr);
	peer.local_port = WEFT_CTX_REMOTE_PORT(msg);
	peer.remote_port = WEFT_CTX_LOCAL_PORT(msg);
	/*
	 * SK_PASS means the peer was found and the message goes to it; otherwise the helper set
	 * nothing and returning SK_PASS sends the message through TCP as usual.
	 */
	if (bpf_msg_redirect_hash(msg, &WEFT_MAP_SOCKS, &peer, BPF_F_INGRESS) != SK_PASS)
		return WEFT_MSG_NO_PEER;
	if (st && !st->peer_psock) {
		/* The helper just stored the peer socket in the message (the context is a
		 * struct sk_msg): remember its psock for the next messages. */
		struct sk_msg *m = bpf_rdonly_cast(msg, bpf_core_type_id_kernel(struct sk_msg));
		struct sk_psock *p = weft_psock_of(m->sk_redir);

		if (p)
			st->peer_psock = (__u64)p;
	}
	return WEFT_MSG_REDIRECTED;
}
