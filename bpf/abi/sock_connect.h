/*
 * ABI of the socket-connect redirection (bpf/progs/sock_connect.bpf.c): the maps the agent
 * fills and reads, their key/value layouts, the verdict counters and the load-time defaults.
 * Included by the BPF program and by C++ (agent datapath, weftctl, tests); this header is
 * the only copy of these definitions.
 */
#pragma once

#include "common.h"

/* ---- map identifiers (see WEFT_MAP_NAME) ------------------------------------------------ */
/*
 * Names fit the kernel's 15 characters (BPF_OBJ_NAME_LEN), so `bpftool map show` prints them
 * whole and they equal the pin file names.
 */

/* HASH  __u64 netns cookie -> struct weft_enrolled_netns. Present = capture this netns. */
#define WEFT_MAP_ENROLLED_NETNS weft_netns_v1
/* HASH  struct weft_service_key -> struct weft_service_value. The mesh destinations. */
#define WEFT_MAP_SERVICES weft_svc_v1
/* HASH  __u64 socket cookie -> struct weft_orig_dst. Written at connect, freed at close. */
#define WEFT_MAP_ORIG_DST weft_odst_v1
/* PERCPU_ARRAY  __u32 enum weft_sock_verdict -> __u64 count. */
#define WEFT_MAP_SOCK_COUNTERS weft_cnt_con_v1

/* ---- limits (max_entries; the loader sets them from its settings before load) ----------- */

#define WEFT_ENROLLED_NETNS_MAX 8192
/* VIP:port entries plus workload-IP entries. */
#define WEFT_SERVICES_MAX 65536
/* Live redirected sockets per node; when full, new mesh connects are refused (EPERM). */
#define WEFT_ORIG_DST_MAX 65536

/* ---- load-time defaults for .rodata (skel->rodata->cfg_*) -------------------------------- */

/* SO_MARK the proxy puts on its own sockets before connect(); they are never redirected. */
#define WEFT_PROXY_MARK_DEFAULT 0x539

/* ---- verdicts ---------------------------------------------------------------------------- */

/*
 * Why a connect() was or was not redirected; the index into WEFT_MAP_SOCK_COUNTERS. Values
 * are exported as metrics and are append-only: never renumber, add before _COUNT.
 */
enum weft_sock_verdict {
	WEFT_SOCK_REDIRECTED = 0,	   /* a Service VIP:port, sent to the proxy */
	WEFT_SOCK_NOT_ENROLLED = 1,	   /* the socket's netns is not in the mesh: untouched */
	WEFT_SOCK_NOT_TCP = 2,		   /* only TCP is captured: untouched */
	WEFT_SOCK_NOT_MESH_DEST = 3,	   /* destination not in WEFT_MAP_SERVICES: untouched */
	WEFT_SOCK_LOOP_GUARD = 4,	   /* the proxy's own socket (cfg_proxy_mark): untouched */
	WEFT_SOCK_ORIG_DST_MAP_FULL = 5,   /* could not record the destination: connect refused */
	WEFT_SOCK_ORIG_DST_ERROR = 6,	   /* other map update failure: connect refused */
	WEFT_SOCK_REDIRECTED_WORKLOAD = 7, /* a mesh workload IP (any port), sent to the proxy */
	WEFT_SOCK_VERDICT_COUNT
};

/* ---- map layouts ------------------------------------------------------------------------- */

/* WEFT_MAP_ENROLLED_NETNS value flags. */
#define WEFT_NETNS_F_NO_ACCEL 0x1 /* keep this netns's loopback sockets out of the sockhash */

/* WEFT_MAP_ENROLLED_NETNS value. */
struct weft_enrolled_netns {
	__u32 flags; /* WEFT_NETNS_F_* */
};
WEFT_ABI_SIZE(struct weft_enrolled_netns, 4);

/*
 * WEFT_MAP_SERVICES key: a Service ClusterIP and port, or a mesh workload (pod) IP with port 0,
 * which matches every port of that address. connect() looks up {addr, port} first, then
 * {addr, 0}, so a VIP:port entry wins over a workload entry for the same address.
 */
struct weft_service_key {
	__u8 addr[WEFT_ADDR_LEN]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	__be16 port;		  /* network byte order; 0 = any port (workload entry) */
	__u8 proto;		  /* IPPROTO_TCP; other protocols are not captured yet */
	__u8 pad;		  /* zero */
};
WEFT_ABI_SIZE(struct weft_service_key, 20);
WEFT_ABI_OFFSET(struct weft_service_key, port, 16);
WEFT_ABI_OFFSET(struct weft_service_key, proto, 18);

/* WEFT_MAP_SERVICES value flags: what kind of mesh destination the key is. */
#define WEFT_SVC_F_VIP 0x1	/* a Service ClusterIP:port */
#define WEFT_SVC_F_WORKLOAD 0x2 /* a mesh pod IP (key port 0) */

/* WEFT_MAP_SERVICES value. */
struct weft_service_value {
	__u32 service_id; /* the snapshot's service (or workload) id, for telemetry and explain */
	__u32 flags;	  /* WEFT_SVC_F_* */
};
WEFT_ABI_SIZE(struct weft_service_value, 8);

/* WEFT_MAP_ORIG_DST value (and weft_conndst_v1's): where the application meant to connect. */
struct weft_orig_dst {
	__u8 addr[WEFT_ADDR_LEN]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	__be16 port;		  /* network byte order */
	__u16 flags;		  /* WEFT_SVC_F_* of the matched entry */
	__u32 service_id;	  /* weft_service_value.service_id of the matched entry */
};
WEFT_ABI_SIZE(struct weft_orig_dst, 24);
WEFT_ABI_OFFSET(struct weft_orig_dst, port, 16);
WEFT_ABI_OFFSET(struct weft_orig_dst, service_id, 20);
