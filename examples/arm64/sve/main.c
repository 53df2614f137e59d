/*
 * sve (arm64): SVE at the largest vector length the vCPU allows, for the gdb-multiarch SVE sessions.
 *
 * ZCR_EL1.LEN is 0 at reset (VL 128 bits whatever the maximum), so the guest enables SVE (CPACR_EL1.ZEN) and
 * raises LEN to 15: on kvmstub with --sve-vl 2048 (or QEMU's -cpu max,sve2048=on) VL is then 2048 bits. It
 * loads z0 (0x11 in every byte), z31 (byte i = i), p15 (0x55 in every byte: every even byte lane) and FFR
 * (the first 8 byte lanes), then waits in park() until `released` is set — from gdb, which may detach and attach again
 * meanwhile (the loop survives that) — and prints what the registers hold then:
 *
 *   vl=2048 bits
 *   parked
 *   z0.b[255]=0x11 z0 sum=4352
 *   z31.b[255]=0xff
 *   p15=0x5555555555555555 ffr=0xff (their first 64 bits)
 *   done
 *
 * A debugger's `set $z0.b.u[255] = 0x5a` while it waits makes that "z0.b[255]=0x5a z0 sum=4425"; a write to
 * p15 or ffr shows in their line. It ends with PSCI SYSTEM_OFF (kvmstub exits 0).
 * On a vCPU without SVE (kvmstub --no-sve) the first SVE access (ZCR_EL1) is undefined: the exception goes to
 * lib/vectors.S's default handler, which prints "unexpected exception: vector 4 esr=0x2000000" and resets (exit 1).
 */
#include "guest.h"

unsigned long sve_enable(unsigned len);
void sve_set(const void *p15_bits);
void sve_read(void *z, void *p);

volatile int released;              /* gdb: set var released = 1 */
volatile unsigned long spins;
static unsigned char zbuf[2 * 256] __attribute__((aligned(16)));
static unsigned char pbuf[2 * 32] __attribute__((aligned(16)));
static unsigned char p15_bits[32] __attribute__((aligned(16)));
unsigned long vl_bytes;

GDB_VISIBLE void park(void)
{
    serial_puts("parked\n");
    while (!released)
        spins++;
}

static unsigned long first8(const unsigned char *p, unsigned long n)
{
    unsigned long v = 0;
    for (unsigned long i = 0; i < n && i < 8; i++)
        v |= (unsigned long)p[i] << (8 * i);
    return v;
}

int main(void)
{
    write_sysreg(vbar_el1, el1_vectors);
    isb();
    vl_bytes = sve_enable(15);
    serial_puts("vl=");
    serial_put_dec(vl_bytes * 8);
    serial_puts(" bits\n");

    memset(p15_bits, 0x55, sizeof p15_bits);
    sve_set(p15_bits);
    park();
    sve_read(zbuf, pbuf);

    unsigned long last = vl_bytes - 1, sum = 0;
    for (unsigned long i = 0; i < vl_bytes; i++)
        sum += zbuf[i];
    serial_puts("z0.b[");
    serial_put_dec(last);
    serial_puts("]=");
    serial_put_hex(zbuf[last]);
    serial_puts(" z0 sum=");
    serial_put_dec(sum);
    serial_puts("\nz31.b[");
    serial_put_dec(last);
    serial_puts("]=");
    serial_put_hex(zbuf[vl_bytes + last]);
    serial_puts("\np15=");
    serial_put_hex(first8(pbuf, vl_bytes / 8));
    serial_puts(" ffr=");
    serial_put_hex(first8(pbuf + vl_bytes / 8, vl_bytes / 8));
    serial_puts(" (their first 64 bits)\ndone\n");
    return 0;
}
