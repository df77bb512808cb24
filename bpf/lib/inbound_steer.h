/*
 * The sk_lookup core: a new TCP connection to an enrolled pod's address, arriving from outside
 * the pod, is handed to the proxy's :15006 listener of that address instead of the app.
 */
#pragma once

#include "lib/common.h"
#include "abi/inbound_steer.h"

#define WEFT_LOOPBACK_IFINDEX 1 /* lo is ifindex 1 in every netns */

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WEFT_INBOUND_MAX);
	__type(key, struct weft_inbound_key);
	__type(value, __u64); /* the listener; user space reads its SO_COOKIE */
} WEFT_MAP_INBOUND SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_LOOKUP_VERDICT_COUNT);
	__type(key, __u32); /* enum weft_lookup_verdict */
	__type(value, __u64);
} WEFT_MAP_LOOKUP_COUNTERS SEC(".maps");

const volatile __u16 cfg_inbound_port = WEFT_INBOUND_PORT;   /* host byte order */
const volatile __u16 cfg_outbound_port = WEFT_OUTBOUND_PORT; /* host byte order */
const volatile __u16 cfg_hbone_port = WEFT_HBONE_PORT;	     /* host byte order */
/* With no listener for the address: 0 refuses the connection (STRICT can never be bypassed
 * while the proxy is away), 1 lets it reach the app. */
const volatile __u8 cfg_inbound_fail_open = 0;

/*
 * Returns 0 to let the normal listener lookup run, 1 after assigning the proxy's listener, or
 * -ECONNREFUSED to refuse the connection. Every path sets *verdict.
 */
static __always_inline int weft_inbound_decide(struct bpf_sk_lookup *ctx, __u32 *verdict)
{
	struct weft_inbound_key key = {};
	struct bpf_sock *listener;
	__u32 port;
	long err;

	if (ctx->protocol != IPPROTO_TCP) {
		*verdict = WEFT_LOOKUP_NOT_TCP;
		return 0;
	}
	/* The proxy's own hop to the app (and anything else local) comes in on lo. */
	if (ctx->ingress_ifindex == WEFT_LOOPBACK_IFINDEX) {
		*verdict = WEFT_LOOKUP_LOOPBACK;
		return 0;
	}
	port = ctx->local_port;
	if (port == cfg_hbone_port || port == cfg_inbound_port || port == cfg_outbound_port) {
		*verdict = WEFT_LOOKUP_EXEMPT_PORT;
		return 0;
	}

	if (ctx->family == AF_INET)
		weft_addr_from4(key.addr, ctx->local_ip4);
	else
		weft_addr_from6(key.addr, ctx->local_ip6[0], ctx->local_ip6[1], ctx->local_ip6[2],
				ctx->local_ip6[3]);
	listener = bpf_map_lookup_elem(&WEFT_MAP_INBOUND, &key);
	if (!listener) {
		*verdict = WEFT_LOOKUP_NO_LISTENER;
		return cfg_inbound_fail_open ? 0 : -ECONNREFUSED;
	}
	err = bpf_sk_assign(ctx, listener, 0);
	bpf_sk_release(listener);
	if (err) {
		*verdict = WEFT_LOOKUP_ASSIGN_ERROR;
		return cfg_inbound_fail_open ? 0 : -ECONNREFUSED;
	}
	*verdict = WEFT_LOOKUP_STEERED;
	return 1;
}
