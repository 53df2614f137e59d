import Glibc
import GDBStub
import KVM
import Machine
import Registers
import Testing

@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct RealModeTests {
    func makeRealModeMachine(_ code: [UInt8]) throws -> Machine {
        var config = MachineConfiguration()
        config.memorySize = 4 << 20
        config.serialFD = open("/dev/null", O_WRONLY)
        config.targetDescription = .i8086
        let machine = try quietMachine(config)
        try machine.loadRealMode(bytes: code, name: "test")
        machine.start(running: false)
        _ = machine.attach()
        return machine
    }

    func reg(_ m: Machine, _ name: String) throws -> UInt64 {
        u64(try m.readRegister(m.registerTable.register(named: name)!.regnum, thread: 1))
    }

    @Test func startsAt0000_7c00InRealModeWithTheI386Registers() throws {
        // mov ax, 0x1234; mov al, 0x41; out 0xf4, al
        let m = try makeRealModeMachine([0xB8, 0x34, 0x12, 0xB0, 0x41, 0xE6, 0xF4])
        #expect(m.registerTable.architecture == "i8086")
        #expect(try reg(m, "eip") == 0x7c00)
        #expect(try reg(m, "cs") == 0 && reg(m, "cs_base") == 0)
        #expect(try reg(m, "esp") == 0x7c00 && reg(m, "edx") == 0x80)
        #expect(try reg(m, "cr0") & 0x8000_0001 == 0)
        #expect(try m.readMemory(at: 0x7c00, count: 3, thread: 1) == [0xB8, 0x34, 0x12])
        let step = try run(m, .step)
        #expect(step == StopEvent(thread: 1, reason: .stepped))
        #expect(try reg(m, "eip") == 0x7c03)
        #expect(try reg(m, "eax") == 0x1234)
        #expect(try run(m, .continue).reason == .exited(status: 0x41))
    }

    @Test func anImageMustFitBelow640KiB() throws {
        var config = MachineConfiguration()
        config.memorySize = 4 << 20
        config.serialFD = open("/dev/null", O_WRONLY)
        let m = try quietMachine(config)
        #expect(throws: LoadError.self) {
            try m.loadRealMode(bytes: [UInt8](repeating: 0x90, count: 0xa0000), name: "big")
        }
        #expect(throws: LoadError.self) { try m.loadRealMode(bytes: [], name: "empty") }
    }
}
