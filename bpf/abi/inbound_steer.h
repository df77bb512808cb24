/*
 * ABI of the inbound steering (bpf/progs/inbound_steer.bpf.c, sk_lookup): a TCP connection to
 * an enrolled pod's address, arriving from outside the pod, goes to the proxy's inbound
 * listener (:15006) inside that pod's netns.
 */
#pragma once

#include "common.h"

/* ---- map identifiers --------------------------------------------------------------------- */

/*
 * SOCKHASH  struct weft_inbound_key -> the :15006 listener of the pod that owns the address.
 * Keyed by the pod's address, not by netns cookie: sk_lookup programs cannot call
 * bpf_get_netns_cookie (checked on 6.18: "program of this type cannot use helper
 * bpf_get_netns_cookie#122"), and a pod's addresses are unique on a node and are the only
 * non-loopback local addresses of its netns.
 */
#define WEFT_MAP_INBOUND weft_inbound_v1
/* PERCPU_ARRAY  __u32 enum weft_lookup_verdict -> __u64 count. */
#define WEFT_MAP_LOOKUP_COUNTERS weft_cnt_lkp_v1

/* ---- limits ------------------------------------------------------------------------------ */

/* Pod addresses with an inbound listener (a pod has one per address family). */
#define WEFT_INBOUND_MAX 8192

/* ---- verdicts ---------------------------------------------------------------------------- */

/* What sk_lookup decided for one listener lookup; the index into WEFT_MAP_LOOKUP_COUNTERS. */
enum weft_lookup_verdict {
	WEFT_LOOKUP_STEERED = 0,      /* assigned to the pod's :15006 listener */
	WEFT_LOOKUP_NOT_TCP = 1,      /* UDP and others: normal lookup */
	WEFT_LOOKUP_LOOPBACK = 2,     /* from inside the pod (lo, loopback or own address: the
					 proxy's own hop to the app): normal lookup */
	WEFT_LOOKUP_EXEMPT_PORT = 3,  /* to 15008 or another proxy port: normal */
	WEFT_LOOKUP_NO_LISTENER = 4,  /* no :15006 registered for the address: refused (fail
					 closed), or normal lookup with cfg_inbound_fail_open */
	WEFT_LOOKUP_ASSIGN_ERROR = 5, /* bpf_sk_assign failed (family, state): as NO_LISTENER */
	WEFT_LOOKUP_VERDICT_COUNT
};

/* ---- map layouts ------------------------------------------------------------------------- */

/* WEFT_MAP_INBOUND key. */
struct weft_inbound_key {
	__u8 addr[WEFT_ADDR_LEN]; /* the pod's address: IPv6, or IPv4 as ::ffff:a.b.c.d */
};
WEFT_ABI_SIZE(struct weft_inbound_key, 16);
