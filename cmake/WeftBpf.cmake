# BPF build pipeline: kernel C (bpf/progs/*.bpf.c) -> clang -target bpf -> <name>.bpf.o ->
# bpftool gen skeleton -> <name>.skel.h, which C++ links through an INTERFACE target
# weft_bpf_<name>. docs/bpf.md describes the whole flow.
#
# Everything is generated under ${CMAKE_BINARY_DIR}/bpf:
#   vmlinux.h          kernel types, dumped from the running kernel's BTF
#   <name>.bpf.o       the BPF object (with BTF, so maps dump with named fields)
#   <name>.skel.h      the skeleton: struct <name>_bpf, <name>_bpf__open(), ...

find_program(WEFT_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin /usr/local/sbin
  DOC "bpftool, used to dump vmlinux.h and generate skeletons")
# clang-14 is what tools/setup installs; newer versions work as well.
find_program(WEFT_BPF_CLANG NAMES clang-14 clang clang-15 clang-16 clang-17 clang-18
  DOC "clang with the BPF target")
set(WEFT_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH
  "Kernel BTF that vmlinux.h is generated from")

if(NOT WEFT_BPFTOOL)
  message(FATAL_ERROR "bpftool not found: it is needed to build the BPF programs "
    "(Debian: apt-get install bpftool, or run tools/setup)")
endif()
if(NOT WEFT_BPF_CLANG)
  message(FATAL_ERROR "clang not found: it is needed to compile the BPF programs "
    "(Debian: apt-get install clang-14, or run tools/setup)")
endif()
if(NOT EXISTS "${WEFT_VMLINUX_BTF}")
  message(FATAL_ERROR "${WEFT_VMLINUX_BTF} is missing: the BPF programs need a kernel built "
    "with CONFIG_DEBUG_INFO_BTF=y (or set -DWEFT_VMLINUX_BTF=<file> to another BTF blob)")
endif()

# bpf_tracing.h/vmlinux.h select register layouts by __TARGET_ARCH_<arch>.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$")
  set(WEFT_BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(WEFT_BPF_TARGET_ARCH arm64)
else()
  set(WEFT_BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

set(WEFT_BPF_OUT_DIR ${CMAKE_BINARY_DIR}/bpf)
set(WEFT_VMLINUX_H ${WEFT_BPF_OUT_DIR}/vmlinux.h)
file(MAKE_DIRECTORY ${WEFT_BPF_OUT_DIR})

# Written to a temporary file first, so a failed dump never leaves a truncated vmlinux.h that
# would look up to date on the next build.
add_custom_command(
  OUTPUT ${WEFT_VMLINUX_H}
  COMMAND sh -c "'${WEFT_BPFTOOL}' btf dump file '${WEFT_VMLINUX_BTF}' format c > '${WEFT_VMLINUX_H}.tmp'"
  COMMAND ${CMAKE_COMMAND} -E rename ${WEFT_VMLINUX_H}.tmp ${WEFT_VMLINUX_H}
  DEPENDS ${WEFT_VMLINUX_BTF}
  COMMENT "Generating vmlinux.h from ${WEFT_VMLINUX_BTF}"
  VERBATIM)
add_custom_target(weft_bpf_vmlinux_h DEPENDS ${WEFT_VMLINUX_H})

# Every header a BPF program can include; any edit rebuilds every program. The depfile below
# is more precise, this list also catches headers added after the last configure.
file(GLOB WEFT_BPF_HEADERS CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/bpf/abi/*.h
  ${CMAKE_SOURCE_DIR}/bpf/lib/*.h)

# The ABI headers (bpf/abi/*.h) for C++: include them as "bpf/abi/<family>.h".
if(NOT TARGET weft_bpf_abi)
  add_library(weft_bpf_abi INTERFACE)
  target_include_directories(weft_bpf_abi INTERFACE ${CMAKE_SOURCE_DIR})
endif()

# weft_bpf_program(NAME <name> SOURCE <file.bpf.c>)
#
# Compiles one BPF object and generates its skeleton. C++ code links weft_bpf_<name> and
# includes "<name>.skel.h" (struct <name>_bpf) and the ABI headers as "bpf/abi/...".
function(weft_bpf_program)
  cmake_parse_arguments(P "" "NAME;SOURCE" "" ${ARGN})
  if(NOT P_NAME OR NOT P_SOURCE)
    message(FATAL_ERROR "weft_bpf_program: NAME and SOURCE are required")
  endif()
  get_filename_component(src ${P_SOURCE} ABSOLUTE)
  set(obj ${WEFT_BPF_OUT_DIR}/${P_NAME}.bpf.o)
  set(dep ${WEFT_BPF_OUT_DIR}/${P_NAME}.bpf.d)
  set(skel ${WEFT_BPF_OUT_DIR}/${P_NAME}.skel.h)

  set(libbpf_includes)
  foreach(dir IN LISTS LIBBPF_INCLUDE_DIRS)
    list(APPEND libbpf_includes -I${dir})
  endforeach()

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${WEFT_BPF_CLANG} -target bpf -g -O2 -D__TARGET_ARCH_${WEFT_BPF_TARGET_ARCH}
            -Wall -Werror
            -I${WEFT_BPF_OUT_DIR} -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}
            ${libbpf_includes}
            -MD -MF ${dep}
            -c ${src} -o ${obj}
    DEPENDS ${src} ${WEFT_BPF_HEADERS} ${WEFT_VMLINUX_H}
    DEPFILE ${dep}
    COMMENT "Compiling BPF object ${P_NAME}.bpf.o"
    VERBATIM)

  # The skeleton embeds the object, so C++ needs no path to a .o at run time.
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "'${WEFT_BPFTOOL}' gen skeleton '${obj}' name '${P_NAME}_bpf' > '${skel}.tmp'"
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating BPF skeleton ${P_NAME}.skel.h"
    VERBATIM)

  add_custom_target(weft_bpf_${P_NAME}_skel DEPENDS ${skel})
  add_dependencies(weft_bpf_${P_NAME}_skel weft_bpf_vmlinux_h)

  add_library(weft_bpf_${P_NAME} INTERFACE)
  target_include_directories(weft_bpf_${P_NAME} INTERFACE ${WEFT_BPF_OUT_DIR})
  # libbpf.so carries its own libelf/zlib dependencies; only a static libbpf needs them here.
  target_link_libraries(weft_bpf_${P_NAME} INTERFACE PkgConfig::LIBBPF weft_bpf_abi)
  if(NOT LIBBPF_LINK_LIBRARIES MATCHES "\\.so")
    target_link_libraries(weft_bpf_${P_NAME} INTERFACE elf z)
  endif()
  # Dependencies of an INTERFACE library are followed by every target that links it, so the
  # skeleton exists before any consumer compiles.
  add_dependencies(weft_bpf_${P_NAME} weft_bpf_${P_NAME}_skel)
  set_target_properties(weft_bpf_${P_NAME} PROPERTIES
    WEFT_BPF_OBJECT ${obj}
    WEFT_BPF_SKELETON ${skel})
endfunction()
