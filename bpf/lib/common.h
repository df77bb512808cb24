/*
 * Small definitions every BPF program needs and vmlinux.h lacks (it has no #defines).
 */
#pragma once

#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef EPERM
#define EPERM 1
#endif
#ifndef E2BIG
#define E2BIG 7
#endif

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* cgroup sock_addr return codes: proceed with the (possibly rewritten) call, or fail it. */
#define WEFT_SYS_PROCEED 1
#define WEFT_SYS_REJECT 0 /* connect() then fails with EPERM */

/* Adds one to a per-CPU counter array slot. Atomic because a task can be preempted between
 * the load and the store while another task on the same CPU runs the same program. */
static __always_inline void weft_count(void *percpu_array, __u32 index)
{
	__u64 *slot = bpf_map_lookup_elem(percpu_array, &index);

	if (slot)
		__sync_fetch_and_add(slot, 1);
}

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

/* Writes an IPv4 address (network byte order) as v4-mapped ::ffff:a.b.c.d. */
static __always_inline void weft_addr_from4(__u8 *addr, __be32 v4)
{
	__u32 *w = (__u32 *)addr;

	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0x0000ffff);
	w[3] = v4;
}

/* Copies an IPv6 address given as four network-order words (already read from the context). */
static __always_inline void weft_addr_from6(__u8 *addr, __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	__u32 *w = (__u32 *)addr;

	w[0] = w0;
	w[1] = w1;
	w[2] = w2;
	w[3] = w3;
}

/* The v4-mapped address's IPv4 part, if it is one. */
static __always_inline bool weft_addr_is_v4(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/* 127.0.0.0/8 (v4-mapped) or ::1. */
static __always_inline bool weft_addr_is_loopback(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	if (weft_addr_is_v4(addr))
		return (bpf_ntohl(w[3]) >> 24) == 127;
	return w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1);
}

static __always_inline bool weft_addr_equal(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Keeps clang from merging or sinking context loads (it would compute a modified context
 * pointer, which the verifier rejects: "dereference of modified ctx ptr"). */
#define weft_barrier_var(var) asm volatile("" : "+r"(var))

/*
 * Reads a socket context's addresses (bpf_sock_ops, sk_msg_md: same field names) into the
 * 16-byte form. Every field is read once, unconditionally, with its own 4-byte load, as the
 * verifier requires for context accesses. AF_INET6 sockets with v4-mapped addresses already
 * hold the mapped form.
 */
#define WEFT_CTX_ADDRS(ctx, local, remote)                                                         \
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

/*
 * Ports of a bpf_sock_ops / sk_msg_md context, both in network byte order. local_port is a host
 * order __u32; remote_port holds the network-order port in its upper 16 bits on little endian
 * (the kernel shifts skc_dport left by 16) and in its lower 16 bits on big endian.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WEFT_CTX_REMOTE_PORT(ctx) ((__be16)((ctx)->remote_port >> 16))
#else
#define WEFT_CTX_REMOTE_PORT(ctx) ((__be16)((ctx)->remote_port))
#endif
#define WEFT_CTX_LOCAL_PORT(ctx) (bpf_htons((__u16)(ctx)->local_port))
