/*
 * lesson-6-exceptions: a guest that installs its own IDT and takes four exceptions, each from an instruction
 * of its own, each handled and returned from:
 *
 *   #DE (vector 0)   div by zero                    (a fault: rip points at the div; the handler skips it)
 *   #BP (vector 3)   int3                           (a trap: rip is already past it)
 *   #UD (vector 6)   ud2                            (a fault: the handler skips its 2 bytes)
 *   #PF (vector 14)  a load from 0x200000000, which  (a fault, error code 0: not present, read, kernel
 *                    the loader's page tables (the   mode; cr2 is the address; the handler skips the
 *                    first 4 GiB) do not map         3-byte load)
 *
 * Every vector goes through the same assembly entry (exception_entry): it pushes a 0 where the CPU pushes no
 * error code, the vector, and the general registers, so that exception() in C gets one struct frame whatever
 * happened. It prints one line per exception and exits with the number of exceptions taken (4).
 * For examples/lesson-6-exceptions/LESSON.md.
 */
#include "guest.h"

#define UNMAPPED 0x200000000UL

struct frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    unsigned long vector, error;        /* pushed by the entry stub (error: by the CPU for #PF) */
    unsigned long rip, cs, rflags, rsp, ss;  /* pushed by the CPU */
};

struct idt_gate {
    unsigned short offset_low;
    unsigned short selector;
    unsigned char ist;
    unsigned char type;         /* 0x8e: present, DPL 0, 64-bit interrupt gate */
    unsigned short offset_mid;
    unsigned int offset_high;
    unsigned int reserved;
} __attribute__((packed));

struct idt_gate idt[256] __attribute__((aligned(16)));

volatile unsigned long taken[32];       /* exceptions taken, by vector */
volatile unsigned long last_cr2;

/* The entry stubs (one per vector used) and the common path; the faulting instructions, at known labels. */
extern char entry_de[], entry_bp[], entry_ud[], entry_pf[], entry_other[];
extern char de_insn[], bp_insn[], ud_insn[], pf_insn[];
__asm__(
    "  .text\n"
    "  .globl entry_de, entry_bp, entry_ud, entry_pf, entry_other, exception_entry\n"
    "entry_de:    pushq $0\n  pushq $0\n  jmp exception_entry\n"
    "entry_bp:    pushq $0\n  pushq $3\n  jmp exception_entry\n"
    "entry_ud:    pushq $0\n  pushq $6\n  jmp exception_entry\n"
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
    "  addq $16, %rsp\n"           /* vector and error code */
    "  iretq\n"
    "  .size exception_entry, . - exception_entry\n"
    /* divide_error(): 1 / 0 */
    "  .globl divide_error, de_insn\n"
    "  .type divide_error, @function\n"
    "divide_error:\n"
    "  movl $1, %eax\n  xorl %edx, %edx\n  xorl %ecx, %ecx\n"
    "de_insn:\n"
    "  divl %ecx\n"                /* f7 f1: 2 bytes */
    "  ret\n"
    "  .size divide_error, . - divide_error\n"
    "  .globl breakpoint, bp_insn\n"
    "  .type breakpoint, @function\n"
    "breakpoint:\n"
    "bp_insn:\n"
    "  int3\n"
    "  ret\n"
    "  .size breakpoint, . - breakpoint\n"
    "  .globl invalid_opcode, ud_insn\n"
    "  .type invalid_opcode, @function\n"
    "invalid_opcode:\n"
    "ud_insn:\n"
    "  ud2\n"                      /* 0f 0b: 2 bytes */
    "  ret\n"
    "  .size invalid_opcode, . - invalid_opcode\n"
    "  .globl page_fault, pf_insn\n"
    "  .type page_fault, @function\n"
    "page_fault:\n"
    "  movabsq $0x200000000, %rax\n"
    "pf_insn:\n"
    "  movq (%rax), %rax\n"        /* 48 8b 00: 3 bytes */
    "  ret\n"
    "  .size page_fault, . - page_fault\n");

void divide_error(void);
void breakpoint(void);
void invalid_opcode(void);
unsigned long page_fault(void);

static void set_gate(int vector, void *handler)
{
    unsigned long a = (unsigned long)handler;
    idt[vector] = (struct idt_gate){
        .offset_low = a & 0xffff, .selector = 0x08, .type = 0x8e,
        .offset_mid = (a >> 16) & 0xffff, .offset_high = a >> 32,
    };
}

GDB_VISIBLE void install_idt(void)
{
    struct { unsigned short limit; unsigned long base; } __attribute__((packed)) idtr = {
        sizeof(idt) - 1, (unsigned long)idt,
    };
    for (int v = 0; v < 256; v++)
        set_gate(v, entry_other);
    set_gate(0, entry_de);
    set_gate(3, entry_bp);
    set_gate(6, entry_ud);
    set_gate(14, entry_pf);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Called by exception_entry with the frame on the stack; returns to where the frame's rip says. */
GDB_VISIBLE void exception(struct frame *f)
{
    unsigned long v = f->vector;
    if (v >= 32) {
        serial_puts("unexpected exception\n");
        exit_vm(99);
    }
    taken[v]++;
    serial_puts("exception ");
    serial_put_dec(v);
    serial_puts(" at rip ");
    serial_put_hex(f->rip);
    serial_puts(", error code ");
    serial_put_hex(f->error);
    switch (v) {
    case 0:     /* a fault: rip is the div; go on after it */
    case 6:     /* ud2 */
        f->rip += 2;
        break;
    case 14:    /* the load; cr2 says what it tried to read */
        __asm__ volatile("movq %%cr2, %0" : "=r"(last_cr2));
        serial_puts(", cr2 ");
        serial_put_hex(last_cr2);
        f->rip += 3;
        f->rax = 0;
        break;
    default:    /* 3: a trap, rip is already past the int3 */
        break;
    }
    serial_putc('\n');
}

int main(void)
{
    install_idt();
    divide_error();
    breakpoint();
    invalid_opcode();
    page_fault();
    unsigned long n = taken[0] + taken[3] + taken[6] + taken[14];
    serial_puts("exceptions taken: ");
    serial_put_dec(n);
    serial_putc('\n');
    return (int)n;
}
