/*
 * ABI of the socket-connect redirection (bpf/progs/sock_connect.bpf.c): the maps the agent
 * fills and reads, their key/value layouts, the verdict counters and the load-time defaults.
 * Included by the BPF program and by C++ (agent datapath, weftctl, tests); this header is
 * the only copy of these definitions.
 */
#pragma once

#include "common.h"

/* ---- map identifiers (see WEFT_MAP_NAME) ------------------------------------------------ */

/* HASH  __u64 netns cookie -> struct weft_enrolled_netns. Present = capture this netns. */
#define WEFT_MAP_ENROLLED_NETNS weft_enrolled_netns_v1
/* HASH  struct weft_service_key -> struct weft_service_value. The mesh destinations. */
#define WEFT_MAP_SERVICES weft_services_v1
/* HASH  __u64 socket cookie -> struct weft_orig_dst. Written at connect, freed at close. */
#define WEFT_MAP_ORIG_DST weft_orig_dst_v1
/* PERCPU_ARRAY  __u32 enum weft_sock_verdict -> __u64 count. */
#define WEFT_MAP_SOCK_COUNTERS weft_counters_v1

/* ---- limits (max_entries; the loader may raise them before load) ------------------------ */

#define WEFT_ENROLLED_NETNS_MAX 8192
#define WEFT_SERVICES_MAX 65536
/* Live redirected sockets per node; when full, new mesh connects are refused (EPERM). */
#define WEFT_ORIG_DST_MAX 65536

/* ---- load-time defaults for .rodata (skel->rodata->cfg_*) -------------------------------- */

/* The node proxy's outbound listener, opened by the agent inside every enrolled netns. */
#define WEFT_OUTBOUND_PORT 15001
/* SO_MARK the proxy puts on its own sockets before connect(); they are never redirected. */
#define WEFT_PROXY_MARK_DEFAULT 0x539

/* ---- verdicts ---------------------------------------------------------------------------- */

/*
 * Why a connect() was or was not redirected; the index into WEFT_MAP_SOCK_COUNTERS. Values
 * are exported as metrics and are append-only: never renumber, add before _COUNT.
 */
enum weft_sock_verdict {
	WEFT_SOCK_REDIRECTED = 0,	 /* rewritten to 127.0.0.1:cfg_outbound_port */
	WEFT_SOCK_NOT_ENROLLED = 1,	 /* the socket's netns is not in the mesh: untouched */
	WEFT_SOCK_NOT_TCP = 2,		 /* only TCP is captured: untouched */
	WEFT_SOCK_NOT_MESH_DEST = 3,	 /* destination not in WEFT_MAP_SERVICES: untouched */
	WEFT_SOCK_LOOP_GUARD = 4,	 /* the proxy's own socket (cfg_proxy_mark): untouched */
	WEFT_SOCK_ORIG_DST_MAP_FULL = 5, /* could not record the destination: connect refused */
	WEFT_SOCK_ORIG_DST_ERROR = 6,	 /* other map update failure: connect refused */
	WEFT_SOCK_VERDICT_COUNT
};

/* ---- map layouts ------------------------------------------------------------------------- */

/* WEFT_MAP_ENROLLED_NETNS value. */
struct weft_enrolled_netns {
	__u32 flags; /* reserved, write 0 */
};
WEFT_ABI_SIZE(struct weft_enrolled_netns, 4);

/* WEFT_MAP_SERVICES key: a Service ClusterIP (or mesh pod IP) and port. */
struct weft_service_key {
	__be32 addr4; /* IPv4, network byte order */
	__be16 port;  /* network byte order */
	__u8 proto;   /* IPPROTO_TCP; other protocols are not captured yet */
	__u8 pad;     /* zero */
};
WEFT_ABI_SIZE(struct weft_service_key, 8);
WEFT_ABI_OFFSET(struct weft_service_key, port, 4);
WEFT_ABI_OFFSET(struct weft_service_key, proto, 6);

/* WEFT_MAP_SERVICES value. */
struct weft_service_value {
	__u32 service_id; /* the snapshot's service id, for telemetry and weftctl explain */
	__u32 flags;	  /* reserved, write 0 */
};
WEFT_ABI_SIZE(struct weft_service_value, 8);

/* WEFT_MAP_ORIG_DST value: where the application meant to connect. */
struct weft_orig_dst {
	__be32 addr4; /* network byte order */
	__be16 port;  /* network byte order */
	__u16 pad;    /* zero */
};
WEFT_ABI_SIZE(struct weft_orig_dst, 8);
WEFT_ABI_OFFSET(struct weft_orig_dst, port, 4);
