/*
 * What every arm64 example guest shares (examples/arm64/lib): the PL011's data register as a serial port,
 * number printing, PSCI, system-register access. No libc; built with -mgeneral-regs-only, so C code never
 * touches the FP/SIMD/SVE registers (the sve guest's assembly owns them).
 */
#ifndef ARM64_GUEST_H
#define ARM64_GUEST_H

#include "psci.h"

#define PL011_DR 0x09000000UL       /* QEMU virt's UART0 data register */

/* Kept out of line and unmerged, so gdb can break in and `finish` out of them at -O1. */
#define GDB_VISIBLE __attribute__((noinline, noipa, used))

#define read_sysreg(name) ({ unsigned long _v; __asm__ volatile("mrs %0, " #name : "=r"(_v)); _v; })
#define write_sysreg(name, v) __asm__ volatile("msr " #name ", %0" ::"r"((unsigned long)(v)) : "memory")
#define isb() __asm__ volatile("isb" ::: "memory")

extern unsigned long entry_sp;      /* sp as the loader gave it (0 under QEMU's -kernel) */

void serial_putc(char c);
void serial_puts(const char *s);
void serial_put_hex(unsigned long value);   /* "0x" + lowercase hex, no padding */
void serial_put_dec(unsigned long value);   /* unsigned decimal */
unsigned long psci_call(unsigned long fn, unsigned long a1, unsigned long a2, unsigned long a3);
/* lib/vectors.S: what an exception entry saved; on_exception may change elr (where eret returns). */
struct frame {
    unsigned long x[19];            /* x0-x18 */
    unsigned long x29, x30, elr, spsr;
};
extern char el1_vectors[];
void on_exception(struct frame *f, unsigned kind);   /* defined by a guest that installs el1_vectors */

void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n);

#endif
