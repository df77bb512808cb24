/*
 * Maps of the established-connection hooks (abi/sock_ops.h): the original destination per
 * accepted connection, the sockhash of loopback sockets, and the two counter arrays. Shared
 * between objects by the loader, like lib/sock_maps.h.
 */
#pragma once

#include "lib/common.h"
#include "abi/sock_ops.h"

/*
 * A plain hash for the same reason as weft_odst_v1: an LRU would silently evict the entry of a
 * connection still waiting in the proxy's accept queue. Entries leave when the proxy takes them
 * or, for connections it never accepts, when the client socket reaches TCP_CLOSE.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEFT_CONN_DST_MAX);
	__type(key, struct weft_conn_key);
	__type(value, struct weft_orig_dst);
} WEFT_MAP_CONN_DST SEC(".maps");

/* Sockets leave a sockhash by themselves when they are closed. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, WEFT_SOCKS_MAX);
	__type(key, struct weft_sock_key);
	__type(value, __u64); /* the socket; user space reads its SO_COOKIE */
} WEFT_MAP_SOCKS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_OPS_VERDICT_COUNT);
	__type(key, __u32); /* enum weft_ops_verdict */
	__type(value, __u64);
} WEFT_MAP_OPS_COUNTERS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_MSG_VERDICT_COUNT);
	__type(key, __u32); /* enum weft_msg_verdict */
	__type(value, __u64);
} WEFT_MAP_MSG_COUNTERS SEC(".maps");
