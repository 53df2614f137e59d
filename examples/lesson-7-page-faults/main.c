/*
 * lesson-7-page-faults: demand paging in miniature. The guest writes to 0x200000000 and 0x200001000, which the
 * loader's page tables (the first 4 GiB, identity) do not map. Each write faults (#PF, vector 14); the handler
 * reads cr2, takes a free 4 KiB page from a pool, writes the missing page-table entries (a page directory and a
 * page table the first time, one PTE each time) and returns to the faulting instruction, which runs again and
 * succeeds. The guest then reads its values back through the new mappings, prints them and exits with the
 * number of page faults taken (2). For examples/lesson-7-page-faults/LESSON.md.
 */
#include "guest.h"

#define DEMAND_BASE 0x200000000UL
#define PTE_P  0x1UL    /* present */
#define PTE_RW 0x2UL    /* writable */
#define ADDR_MASK 0x000ffffffffff000UL

struct frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    unsigned long vector, error;
    unsigned long rip, cs, rflags, rsp, ss;
};

struct idt_gate {
    unsigned short offset_low;
    unsigned short selector;
    unsigned char ist;
    unsigned char type;
    unsigned short offset_mid;
    unsigned int offset_high;
    unsigned int reserved;
} __attribute__((packed));

struct idt_gate idt[256] __attribute__((aligned(16)));

/* Free pages for page tables and data; guest-physical = guest-virtual below 4 GiB. */
unsigned char pool[8][4096] __attribute__((aligned(4096)));
volatile unsigned long pool_used;
volatile unsigned long faults;

extern char entry_pf[], entry_other[];
__asm__(
    "  .text\n"
    "  .globl entry_pf, entry_other, exception_entry\n"
    "entry_pf:    pushq $14\n  jmp exception_entry\n"     /* the CPU pushed the error code */
    "entry_other: pushq $0\n  pushq $255\n  jmp exception_entry\n"
    "  .type exception_entry, @function\n"
    "exception_entry:\n"
    "  pushq %rax\n  pushq %rbx\n  pushq %rcx\n  pushq %rdx\n  pushq %rsi\n  pushq %rdi\n  pushq %rbp\n"
    "  pushq %r8\n  pushq %r9\n  pushq %r10\n  pushq %r11\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, %rdi\n"
    "  call exception\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %r11\n  popq %r10\n  popq %r9\n  popq %r8\n"
    "  popq %rbp\n  popq %rdi\n  popq %rsi\n  popq %rdx\n  popq %rcx\n  popq %rbx\n  popq %rax\n"
    "  addq $16, %rsp\n"
    "  iretq\n"
    "  .size exception_entry, . - exception_entry\n");

static void set_gate(int vector, void *handler)
{
    unsigned long a = (unsigned long)handler;
    idt[vector] = (struct idt_gate){
        .offset_low = a & 0xffff, .selector = 0x08, .type = 0x8e,
        .offset_mid = (a >> 16) & 0xffff, .offset_high = a >> 32,
    };
}

static void install_idt(void)
{
    struct { unsigned short limit; unsigned long base; } __attribute__((packed)) idtr = {
        sizeof(idt) - 1, (unsigned long)idt,
    };
    for (int v = 0; v < 256; v++)
        set_gate(v, entry_other);
    set_gate(14, entry_pf);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

static unsigned long new_page(void)
{
    unsigned char *page = pool[pool_used++];
    memset(page, 0, 4096);
    return (unsigned long)page;
}

/* The entry at `index` of the table at physical `table`: the next level's table, made if missing. */
static unsigned long *next_table(unsigned long table, unsigned long index)
{
    unsigned long *entry = (unsigned long *)table + index;
    if (!(*entry & PTE_P))
        *entry = new_page() | PTE_P | PTE_RW;
    return (unsigned long *)(*entry & ADDR_MASK);
}

/* Maps the page holding `address` to a fresh page; returns the PTE. */
GDB_VISIBLE unsigned long *map_page(unsigned long address)
{
    unsigned long cr3;
    __asm__ volatile("movq %%cr3, %0" : "=r"(cr3));
    unsigned long *pdpt = next_table(cr3 & ADDR_MASK, (address >> 39) & 511);
    unsigned long *pd = next_table((unsigned long)pdpt, (address >> 30) & 511);
    unsigned long *pt = next_table((unsigned long)pd, (address >> 21) & 511);
    unsigned long *pte = pt + ((address >> 12) & 511);
    *pte = new_page() | PTE_P | PTE_RW;
    return pte;
}

GDB_VISIBLE void exception(struct frame *f)
{
    if (f->vector != 14 || (f->error & PTE_P) || pool_used + 3 > 8) {
        serial_puts("unexpected exception\n");
        exit_vm(99);
    }
    unsigned long cr2;
    __asm__ volatile("movq %%cr2, %0" : "=r"(cr2));
    faults++;
    map_page(cr2);
    serial_puts("page fault at ");
    serial_put_hex(cr2);
    serial_puts(", error code ");
    serial_put_hex(f->error);
    serial_puts(": mapped\n");
    /* Back to the faulting instruction: it runs again, now with a page. */
}

GDB_VISIBLE void written(void) {}

int main(void)
{
    install_idt();
    volatile unsigned long *a = (volatile unsigned long *)DEMAND_BASE;
    volatile unsigned long *b = (volatile unsigned long *)(DEMAND_BASE + 0x1000);
    a[0] = 0x1111;
    a[1] = 0x2222;      /* the same page: no fault */
    written();
    b[0] = 0x3333;
    serial_puts("read back: ");
    serial_put_hex(a[0] + a[1] + b[0]);
    serial_putc('\n');
    return (int)faults;
}
