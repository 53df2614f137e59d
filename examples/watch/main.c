/*
 * watch: data for page-protection watchpoints (gdb-scripts/page-watch*.gdb, the benchmark).
 *
 * `page` is one 4 KiB page: `target` (read once, then written once), `hot` (bumped HOT times first: an
 * unwatched neighbour on a watched page) and `many[16]` (written in order: ten watchpoints at once).
 * `area` spans two pages; `straddle` is the 4-byte word at area + 4094, across the boundary.
 * `code_page_var` shares its page with `code_page_fn`, which the guest calls: watching it puts an executed page
 * under protection. Each phase ends in a call to `phase(n)`, a place for a breakpoint.
 * Prints "watch: done sum=<target's first value>" and exits 0.
 */
#include "guest.h"

#define HOT 1000

struct watched_page {
    unsigned long target;
    unsigned long hot;
    unsigned long many[16];
};

volatile struct watched_page page __attribute__((aligned(4096)));
volatile unsigned char area[8192] __attribute__((aligned(4096)));
volatile unsigned long sum;

/* A function and a variable on one page of their own (outside .text's other pages). */
__asm__(".pushsection .text.codepage,\"ax\",@progbits\n"
        ".balign 4096\n"
        ".globl code_page_fn\n"
        "code_page_fn:\n"
        "    incq code_page_var(%rip)\n"
        "    ret\n"
        ".balign 64\n"
        ".globl code_page_var\n"
        "code_page_var: .quad 0\n"
        ".balign 4096\n"
        ".popsection\n");
extern volatile unsigned long code_page_var;
void code_page_fn(void);

GDB_VISIBLE void phase(int n) { __asm__ volatile("" ::"r"(n) : "memory"); }

int main(void)
{
    page.target = 7;
    phase(0);
    for (int i = 0; i < HOT; i++)
        page.hot++;
    sum = page.target;                  /* the read */
    page.target = 42;                   /* the write */
    phase(1);
    for (int i = 0; i < 16; i++)
        page.many[i] = i + 1;
    phase(2);
    *(volatile unsigned int *)(area + 4094) = 0x11223344;   /* across the page boundary */
    phase(3);
    code_page_fn();
    code_page_fn();
    phase(4);
    serial_puts("watch: done sum=");
    serial_put_dec(sum);
    serial_puts(" hot=");
    serial_put_dec(page.hot);
    serial_puts(" code_page_var=");
    serial_put_dec(code_page_var);
    serial_puts("\n");
    return 0;
}
