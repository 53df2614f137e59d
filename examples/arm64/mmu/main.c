/*
 * mmu (arm64): turns the stage-1 MMU on at EL1 (4 KiB granule, 39-bit virtual addresses, walks from level 1)
 * for the translate / virtual-memory sessions. Its tables:
 *
 *   TTBR0 (identity)  L1[0]  0x00000000-0x3fffffff  1 GiB block, Device-nGnRnE (the PL011)
 *                     L1[1]  0x40000000-0x7fffffff  1 GiB block, Normal write-back (RAM, the image)
 *   TTBR1 (high)      HIGH_IMAGE = 0xffffff8000200000  2 MiB block (L1 -> L2) onto the image at 0x40000000
 *                     HIGH_PAGE  = 0xffffff8000001000  4 KiB page (L1 -> L2 -> L3) onto `page` (in .bss)
 *                     0xffffff8000000000               not mapped (its L3 entry is invalid)
 *
 * With the MMU on it writes through HIGH_PAGE and reads back through the identity map, then calls
 * high_add() through its HIGH_IMAGE alias (code fetched at a TTBR1 address). Undisturbed it prints
 *
 *   mmu on: sctlr=0x...
 *   page[0]=0x600dcafe via 0xffffff8000001000
 *   high_add(2, 3) = 5 at 0xffffff80002.....
 *   done
 *
 * What gdb can change on the way: at mmu_ready, `set *(unsigned long *)0xffffff8000001008 = 7` (a write
 * through the TTBR1 mapping) shows as "page[1]=0x7" (the guest prints page[1] when it is not 0).
 * Ends with PSCI SYSTEM_OFF (kvmstub exits 0); an unexpected exception (a fault) resets (exits 1).
 */
#include "guest.h"

#define HIGH_BASE   0xffffff8000000000UL
#define HIGH_PAGE   (HIGH_BASE + 0x1000)
#define HIGH_IMAGE  (HIGH_BASE + 0x200000)
#define IMAGE_BASE  0x40000000UL

/* Descriptor bits (VMSAv8-64, 4 KiB granule). */
#define D_VALID     1UL
#define D_TABLE     2UL                     /* level 1-2: next-level table; level 3: page */
#define D_BLOCK     0UL
#define D_ATTR(i)   ((unsigned long)(i) << 2)   /* MAIR_EL1 index */
#define D_SH_INNER  (3UL << 8)
#define D_AF        (1UL << 10)
#define D_PXN       (1UL << 53)
#define D_UXN       (1UL << 54)

static unsigned long l1_low[512] __attribute__((aligned(4096)));
static unsigned long l1_high[512] __attribute__((aligned(4096)));
static unsigned long l2_high[512] __attribute__((aligned(4096)));
static unsigned long l3_high[512] __attribute__((aligned(4096)));
volatile unsigned long page[512] __attribute__((aligned(4096)));
unsigned long sctlr_before;

GDB_VISIBLE int high_add(int a, int b)
{
    return a + b;
}

GDB_VISIBLE void mmu_ready(void)
{
    serial_puts("mmu on: sctlr=");
    serial_put_hex(read_sysreg(sctlr_el1));
    serial_putc('\n');
}

static void mmu_on(void)
{
    const unsigned long normal = D_ATTR(1) | D_SH_INNER | D_AF, device = D_ATTR(0) | D_AF | D_PXN | D_UXN;
    l1_low[0] = 0x00000000UL | device | D_BLOCK | D_VALID;
    l1_low[1] = 0x40000000UL | normal | D_BLOCK | D_VALID;
    l1_high[0] = (unsigned long)l2_high | D_TABLE | D_VALID;
    l2_high[0] = (unsigned long)l3_high | D_TABLE | D_VALID;
    l2_high[1] = IMAGE_BASE | normal | D_BLOCK | D_VALID;           /* HIGH_IMAGE: 2 MiB block */
    l3_high[1] = (unsigned long)page | normal | D_TABLE | D_VALID;  /* HIGH_PAGE: a level-3 page */

    write_sysreg(mair_el1, 0xff00UL);       /* attr0 Device-nGnRnE, attr1 Normal write-back */
    /* T0SZ = T1SZ = 25 (39-bit VAs), write-back inner shareable walks, TG0 = 4K (0b00), TG1 = 4K (0b10),
       IPS = 0b001 (36-bit PAs) */
    write_sysreg(tcr_el1, 25UL | 1UL << 8 | 1UL << 10 | 3UL << 12 |
                              25UL << 16 | 1UL << 24 | 1UL << 26 | 3UL << 28 | 2UL << 30 | 1UL << 32);
    write_sysreg(ttbr0_el1, l1_low);
    write_sysreg(ttbr1_el1, l1_high);
    __asm__ volatile("dsb ish; tlbi vmalle1; dsb ish; isb" ::: "memory");
    sctlr_before = read_sysreg(sctlr_el1);
    write_sysreg(sctlr_el1, sctlr_before | 1UL | 1UL << 2 | 1UL << 12);  /* M, C, I */
    isb();
}

int main(void)
{
    write_sysreg(vbar_el1, el1_vectors);
    isb();
    mmu_on();
    mmu_ready();

    volatile unsigned long *high = (volatile unsigned long *)HIGH_PAGE;
    high[0] = 0x600dcafe;
    serial_puts("page[0]=");
    serial_put_hex(page[0]);
    serial_puts(" via ");
    serial_put_hex(HIGH_PAGE);
    serial_putc('\n');
    if (page[1]) {
        serial_puts("page[1]=");
        serial_put_hex(page[1]);
        serial_putc('\n');
    }

    int (*alias)(int, int) = (int (*)(int, int))((unsigned long)high_add - IMAGE_BASE + HIGH_IMAGE);
    int sum = alias(2, 3);
    serial_puts("high_add(2, 3) = ");
    serial_put_dec((unsigned long)sum);
    serial_puts(" at ");
    serial_put_hex((unsigned long)alias);
    serial_puts("\ndone\n");
    return page[0] == 0x600dcafe && sum == 5 ? 0 : 3;
}
