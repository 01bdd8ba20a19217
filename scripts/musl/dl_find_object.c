/*
 * _dl_find_object for a static musl build of vigie-agent (scripts/musl-agent.sh).
 *
 * GCC 12's static unwinder (libgcc_eh.a), which stands in for LLVM's libunwind there, finds the
 * unwind tables of the code at a given address with glibc 2.35's _dl_find_object; musl has no such
 * function. This one answers the same question from dl_iterate_phdr (which musl has): the loaded
 * object whose PT_LOAD segment holds the address, and its PT_GNU_EH_FRAME segment. Layout of
 * struct dl_find_object as glibc declares it for x86_64 (<dlfcn.h>), without an eh_dbase field.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stddef.h>
#include <stdint.h>

struct dl_find_object {
    unsigned long long int dlfo_flags;
    void *dlfo_map_start;
    void *dlfo_map_end;
    struct link_map *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long int __dlfo_reserved[7];
};

struct query {
    uintptr_t pc;
    struct dl_find_object *result;
    int found;
};

static int visit(struct dl_phdr_info *info, size_t size, void *data) {
    struct query *q = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    int holds = 0;
    void *eh = NULL;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            uintptr_t end = start + ph->p_memsz;
            if (start < lo) lo = start;
            if (end > hi) hi = end;
            if (q->pc >= start && q->pc < end) holds = 1;
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            eh = (void *)start;
        }
    }
    if (!holds) return 0;
    q->result->dlfo_flags = 0;
    q->result->dlfo_map_start = (void *)lo;
    q->result->dlfo_map_end = (void *)hi;
    q->result->dlfo_link_map = NULL;
    q->result->dlfo_eh_frame = eh;
    q->found = 1;
    return 1;
}

int _dl_find_object(void *pc, struct dl_find_object *result) {
    struct query q = { (uintptr_t)pc, result, 0 };
    dl_iterate_phdr(visit, &q);
    return q.found ? 0 : -1;
}
