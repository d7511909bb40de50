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
