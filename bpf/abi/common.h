/*
 * Shared by every ABI header: the fixed-width types and a static assert that work both in
 * BPF C (clang -target bpf, types from vmlinux.h) and in C++ (types from <linux/types.h>).
 *
 * Rules for every struct under bpf/abi/ (docs/bpf.md explains why):
 *  - fixed-width types only (__u8.. __u64, __be16/__be32 for wire-order fields);
 *  - explicit padding fields, named pad*, that writers zero: hash maps hash every key byte;
 *  - a size assert next to the struct, and a new map suffix (_v2) for any layout change.
 */
#pragma once

#if defined(__bpf__)
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif

#ifdef __cplusplus
#define WEFT_ABI_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define WEFT_ABI_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define WEFT_ABI_SIZE(type, size) WEFT_ABI_ASSERT(sizeof(type) == (size), #type " changed size")
#define WEFT_ABI_OFFSET(type, field, off)                                                          \
	WEFT_ABI_ASSERT(__builtin_offsetof(type, field) == (off), #type "." #field " moved")

#define WEFT_STR_(x) #x
#define WEFT_STR(x) WEFT_STR_(x)

/*
 * A map's identifier is its name in the BPF object, its skeleton field (skel->maps.<id>) and
 * its pin file name. The kernel itself keeps only the first 15 characters (BPF_OBJ_NAME_LEN),
 * which is what `bpftool map show` prints; pin paths and skeleton fields use the full name.
 */
#define WEFT_MAP_NAME(id) WEFT_STR(id)

/* Where the agent pins maps and links (one bpffs directory per node). */
#define WEFT_BPF_PIN_DIR "/sys/fs/bpf/weft"
/* Links are pinned under <pin dir>/WEFT_BPF_LINK_SUBDIR/<program name> (and netns-<cookie>). */
#define WEFT_BPF_LINK_SUBDIR "links"

/*
 * Addresses in map keys and values are 16 bytes in network byte order: an IPv6 address, or an
 * IPv4 one as the v4-mapped ::ffff:a.b.c.d. One layout for both families keeps one map per
 * purpose, and an AF_INET6 socket using a v4-mapped address meets the same entries as an AF_INET
 * one. A byte array (not __be32 words) so that bpftool prints the address bytes in order.
 */
#define WEFT_ADDR_LEN 16

/* The proxy's ports, as users know them from Istio. */
#define WEFT_OUTBOUND_PORT 15001
#define WEFT_INBOUND_PORT 15006
#define WEFT_HBONE_PORT 15008
