/*
 * The sk_lookup core: a new TCP connection to an enrolled pod's address, arriving from outside
 * the pod, is handed to the proxy's :15006 listener of that address instead of the app.
 */
#pragma once

#include "lib/common.h"
#include "abi/inbound_steer.h"

#define WEFT_LOOPBACK_IFINDEX 1 /* lo is ifindex 1 in every netns */

/* Local and remote address of an sk_lookup context in the 16-byte form (see WEFT_CTX_ADDRS). */
#define WEFT_LOOKUP_ADDRS(ctx, local, remote)                                                      \
	do {                                                                                       \
		__u32 f_ = (ctx)->family, l4_ = (ctx)->local_ip4, r4_ = (ctx)->remote_ip4;         \
		__u32 l0_ = (ctx)->local_ip6[0], l1_ = (ctx)->local_ip6[1];                        \
		__u32 l2_ = (ctx)->local_ip6[2], l3_ = (ctx)->local_ip6[3];                        \
		__u32 r0_ = (ctx)->remote_ip6[0], r1_ = (ctx)->remote_ip6[1];                      \
		__u32 r2_ = (ctx)->remote_ip6[2], r3_ = (ctx)->remote_ip6[3];                      \
		weft_barrier_var(f_);                                                              \
		weft_barrier_var(l4_);                                                             \
		weft_barrier_var(r4_);                                                             \
		weft_barrier_var(l0_);                                                             \
		weft_barrier_var(l1_);                                                             \
		weft_barrier_var(l2_);                                                             \
		weft_barrier_var(l3_);                                                             \
		weft_barrier_var(r0_);                                                             \
		weft_barrier_var(r1_);                                                             \
		weft_barrier_var(r2_);                                                             \
		weft_barrier_var(r3_);                                                             \
		if (f_ == AF_INET) {                                                               \
			weft_addr_from4(local, l4_);                                               \
			weft_addr_from4(remote, r4_);                                              \
		} else {                                                                           \
			weft_addr_from6(local, l0_, l1_, l2_, l3_);                                \
			weft_addr_from6(remote, r0_, r1_, r2_, r3_);                               \
		}                                                                                  \
	} while (0)

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
	__u8 remote[WEFT_ADDR_LEN] = {};
	struct bpf_sock *listener;
	__u32 port;
	long err;

	if (ctx->protocol != IPPROTO_TCP) {
		*verdict = WEFT_LOOKUP_NOT_TCP;
		return 0;
	}
	port = ctx->local_port;
	if (port == cfg_hbone_port || port == cfg_inbound_port || port == cfg_outbound_port) {
		*verdict = WEFT_LOOKUP_EXEMPT_PORT;
		return 0;
	}

	WEFT_LOOKUP_ADDRS(ctx, key.addr, remote);
	/*
	 * From inside the pod (the proxy's own hop to the app, the app calling itself): on lo, or
	 * from a loopback or this very address. ingress_ifindex alone is not enough: a connection
	 * from the pod to its own IP reports the ifindex of the device holding that address
	 * (the route's rt_iif), not lo's.
	 */
	if (ctx->ingress_ifindex == WEFT_LOOPBACK_IFINDEX || weft_addr_is_loopback(remote) ||
	    weft_addr_equal(remote, key.addr)) {
		*verdict = WEFT_LOOKUP_LOOPBACK;
		return 0;
	}
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
