/*
 * timer: a guest with a timer interrupt, for stepping with and without
 * interrupt blocking (`monitor sstep irq on|off`). Needs `kvmstub run --irqchip`:
 * the in-kernel 8259 PIC and 8254 PIT.
 *
 * main() installs an IDT whose vector 0x20 is timer_interrupt (assembly, below),
 * remaps the master PIC to vectors 0x20-0x27 with only IRQ 0 unmasked,
 * programs PIT channel 0 as a 1 kHz rate generator and enables interrupts.
 * Then it calls count_up() until `ticks` reaches TICKS_TO_RUN (a fifth of a
 * second of guest time) and exits with status 0.
 *
 * timer_interrupt counts `ticks` and sends the PIC its end-of-interrupt; a
 * spurious IRQ 7 is ignored; any other vector ends the run with status 99.
 *
 * Stepping: with the timer at 1 kHz an interrupt is pending at almost every
 * `stepi` gdb makes (each takes longer than 1 ms of a person's time, and
 * certainly longer after `shell sleep 0.01`). Without KVM_GUESTDBG_BLOCKIRQ
 * the step enters timer_interrupt; with it (kvmstub's default) the step stays
 * in count_up/main and the interrupt waits for the next `continue`.
 */
#include "guest.h"

#define TICKS_TO_RUN 200
#define PIT_HZ 1193182
#define TIMER_HZ 1000
#define TIMER_VECTOR 0x20

volatile unsigned long ticks;   /* timer interrupts taken */
volatile unsigned long counted; /* count_up() calls */

struct idt_gate {
    unsigned short offset_low;
    unsigned short selector;
    unsigned char ist;
    unsigned char type;         /* 0x8e: present, DPL 0, 64-bit interrupt gate */
    unsigned short offset_mid;
    unsigned int offset_high;
    unsigned int reserved;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

/* The handlers: assembly, so that a step lands on a known first instruction. */
extern char timer_interrupt[], timer_interrupt_end[], spurious_interrupt[], unexpected_interrupt[];
__asm__(
    "  .text\n"
    "  .globl timer_interrupt, timer_interrupt_end, spurious_interrupt, unexpected_interrupt\n"
    "  .type timer_interrupt, @function\n"
    "timer_interrupt:\n"
    "  pushq %rax\n"
    "  lock incq ticks(%rip)\n"
    "  movb $0x20, %al\n"          /* OCW2: non-specific EOI to the master PIC */
    "  outb %al, $0x20\n"
    "  popq %rax\n"
    "  iretq\n"
    "timer_interrupt_end:\n"
    "  .size timer_interrupt, . - timer_interrupt\n"
    "spurious_interrupt:\n"
    "  iretq\n"
    "  .type unexpected_interrupt, @function\n"
    "unexpected_interrupt:\n"
    "  movb $99, %al\n"
    "  outb %al, $0xf4\n"          /* the exit port: kvmstub stops the guest */
    "1: cli\n"
    "  hlt\n"
    "  jmp 1b\n"
    "  .size unexpected_interrupt, . - unexpected_interrupt\n");

static void set_gate(int vector, void *handler)
{
    unsigned long a = (unsigned long)handler;
    idt[vector] = (struct idt_gate){
        .offset_low = a & 0xffff, .selector = 0x08, .type = 0x8e,
        .offset_mid = (a >> 16) & 0xffff, .offset_high = a >> 32,
    };
}

static void load_idt(void)
{
    struct { unsigned short limit; unsigned long base; } __attribute__((packed)) idtr = {
        sizeof(idt) - 1, (unsigned long)idt,
    };
    for (int v = 0; v < 256; v++)
        set_gate(v, unexpected_interrupt);
    set_gate(TIMER_VECTOR, timer_interrupt);
    set_gate(TIMER_VECTOR + 7, spurious_interrupt);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* ICW1-ICW4: edge-triggered, cascaded, vectors 0x20/0x28, 8086 mode; then mask all but IRQ 0. */
static void init_pics(void)
{
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, TIMER_VECTOR); outb(0xa1, TIMER_VECTOR + 8);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xfe); outb(0xa1, 0xff);
}

/* Channel 0, lobyte/hibyte, mode 2 (rate generator). */
static void start_pit(void)
{
    unsigned divisor = PIT_HZ / TIMER_HZ;
    outb(0x43, 0x34);
    outb(0x40, divisor & 0xff);
    outb(0x40, divisor >> 8);
}

GDB_VISIBLE void count_up(void)
{
    counted++;
}

int main(void)
{
    load_idt();
    init_pics();
    start_pit();
    serial_puts("timer: 1 kHz, waiting for 200 ticks\n");
    __asm__ volatile("sti");
    while (ticks < TICKS_TO_RUN)
        count_up();
    cli();
    /* A tick may land between the loop's last check and the cli: said apart, so the line's start is fixed. */
    unsigned long late = ticks - TICKS_TO_RUN;
    serial_puts("timer: ");
    serial_put_dec(TICKS_TO_RUN);
    serial_puts(" ticks");
    if (late) {
        serial_puts(" (+");
        serial_put_dec(late);
        serial_puts(" before cli)");
    }
    serial_puts(", count_up called ");
    serial_put_dec(counted);
    serial_puts(" times\n");
    return 0;
}
