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
