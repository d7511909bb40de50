import Foundation
import Testing
@testable import RNNKernels

@Suite struct InstructionSetTests {
    @Test func theBestRunnableVariantIsTheDefault() {
        let runnable = KernelSelection.runnableInstructionSets
        #expect(!runnable.isEmpty)
        #if arch(x86_64)
        #expect(runnable.contains(.baseline))
        #expect(runnable.contains(.avx2) == InstructionSet.avx2.isSupportedByCPU)
        #expect(runnable.contains(.avx512) == InstructionSet.avx512.isSupportedByCPU)
        #endif
        if KernelSelection.environmentProblem == nil, ProcessInfo.processInfo.environment["RNNKIT_ISA"] == nil {
            #expect(KernelSelection.current.instructionSet == runnable.first)
        }
    }

    /// Every variant but x86-64's baseline fuses its multiply-adds; the
    /// baseline uses a multiply and an add.
    @Test(arguments: KernelSelection.testedVariants)
    func fusedMultiplyAddWhereTheVariantHasIt(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            #expect(targetHasFMA == (kernels.instructionSet != .baseline))
        }
    }

    /// Without FMA in the target, `SIMD.addingProduct` becomes one libm
    /// `fmaf` call per lane, about 100 times slower: the baseline variant's
    /// object files must not reference `fmaf` at all.
    @Test func theBaselineVariantCallsNoLibmFMA() throws {
        #if arch(x86_64)
        let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let objects = try objectFiles(of: "KernelsBaseline", under: packageRoot.appending(path: ".build"))
        try #require(!objects.isEmpty, "no object files of KernelsBaseline under .build")
        for object in objects {
            let undefined = try run("/usr/bin/env", ["nm", "-u", object.path])
            #expect(!undefined.split(separator: "\n").contains { $0.hasSuffix(" fmaf") || $0.hasSuffix(" fma") },
                    "\(object.lastPathComponent) calls libm's fmaf")
        }
        #endif
    }

    /// Each x86-64 variant is really compiled for its instruction set: the
    /// AVX-512 kernels use zmm registers, the AVX2 ones fused multiply-adds on
    /// ymm, and the baseline's neither (what would fault on an SSE2-only CPU).
    /// Whole modules are disassembled: a debug build does not inline across
    /// files, so its FMAs sit in the file that defines `multiplyAdd`.
    @Test func eachVariantIsCompiledForItsInstructionSet() throws {
        #if arch(x86_64)
        let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let build = packageRoot.appending(path: ".build")
        func disassembly(of module: String) throws -> String {
            let objects = try objectFiles(of: module, under: build)
            try #require(!objects.isEmpty, "no object file of \(module) under .build")
            return try objects.map { try run("/usr/bin/env", ["objdump", "-d", $0.path]) }.joined()
        }
        #expect(try disassembly(of: "KernelsAVX512").contains("zmm"))
        let avx2 = try disassembly(of: "KernelsAVX2")
        #expect(avx2.contains("vfmadd") && avx2.contains("ymm") && !avx2.contains("zmm"))
        let baseline = try disassembly(of: "KernelsBaseline")
        #expect(baseline.contains("mulps") && !baseline.contains("ymm") && !baseline.contains("vfmadd"))
        #endif
    }

    private func objectFiles(of module: String, under build: URL) throws -> [URL] {
        let walker = FileManager.default.enumerator(at: build, includingPropertiesForKeys: nil)
        var objects: [URL] = []
        while let url = walker?.nextObject() as? URL {
            if url.pathExtension == "o", url.deletingLastPathComponent().lastPathComponent == "\(module).build" {
                objects.append(url)
            }
        }
        return objects
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(filePath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self)
    }
}
