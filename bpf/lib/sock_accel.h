/*
 * The sk_msg core: a message sent on one end of an accelerated loopback connection goes
 * straight into the receive queue of the other end, found in the sockhash under the mirrored
 * key (same netns, local and remote swapped).
 */
#pragma once

#include "lib/common.h"
#include "lib/conn_maps.h"

static __always_inline __u32 weft_msg_redirect(struct sk_msg_md *msg)
{
	struct weft_sock_key peer = {};

	peer.netns_cookie = bpf_get_netns_cookie(msg);
	/* The peer's local end is our remote end. */
	WEFT_CTX_ADDRS(msg, peer.remote_addr, peer.local_addr);
	peer.local_port = WEFT_CTX_REMOTE_PORT(msg);
	peer.remote_port = WEFT_CTX_LOCAL_PORT(msg);
	/*
	 * SK_PASS means the peer was found and the message goes to it; otherwise the helper set
	 * nothing and returning SK_PASS sends the message through TCP as usual.
	 */
	if (bpf_msg_redirect_hash(msg, &WEFT_MAP_SOCKS, &peer, BPF_F_INGRESS) == SK_PASS)
		return WEFT_MSG_REDIRECTED;
	return WEFT_MSG_NO_PEER;
}
