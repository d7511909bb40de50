import Foundation
import Testing
import CRNNSupport
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

    /// Processors that have part of a level, or an OS that does not save the
    /// wider registers, get the best variant whose whole level they have.
    @Test(
        arguments: [
            ("Zen 4 / Sapphire Rapids: all of x86-64-v4", [], InstructionSet.avx512),
            ("Knights Landing: AVX512F and CD, no BW/DQ/VL", ["AVX512BW", "AVX512DQ", "AVX512VL"], .avx2),
            ("AVX-512 without VL", ["AVX512VL"], .avx2),
            (
                "OS saves ymm but not zmm",
                [
                    "OS support for zmm0-15 upper halves (XCR0.ZMM_Hi256)",
                    "OS support for zmm16-31 (XCR0.Hi16_ZMM)",
                    "OS support for opmask state (XCR0.opmask)"
                ], .avx2
            ),
            ("OS does not save opmask registers", ["OS support for opmask state (XCR0.opmask)"], .avx2),
            ("Haswell: x86-64-v3, no AVX-512", ["AVX512F", "AVX512DQ", "AVX512CD", "AVX512BW", "AVX512VL"], .avx2),
            ("AVX2 and FMA without BMI2 (a VM hiding it)", ["BMI2"], .baseline),
            ("AVX2 and FMA without BMI1", ["BMI1"], .baseline),
            ("no LZCNT", ["LZCNT"], .baseline),
            ("no MOVBE", ["MOVBE"], .baseline),
            ("no F16C", ["F16C"], .baseline),
            ("no FMA (AVX2 only)", ["FMA"], .baseline),
            ("no OSXSAVE: XGETBV unusable", ["OSXSAVE"], .baseline),
            ("OS does not save ymm", ["OS support for AVX state (XCR0.AVX)"], .baseline),
            ("Sandy Bridge: AVX, no AVX2", ["AVX2", "FMA", "BMI1", "BMI2", "F16C", "LZCNT", "MOVBE"], .baseline),
            ("no POPCNT (x86-64-v2 missing)", ["POPCNT"], .baseline),
            ("no CMPXCHG16B", ["CMPXCHG16B"], .baseline),
            ("no LAHF/SAHF in 64-bit mode", ["LAHF/SAHF"], .baseline)
        ] as [(String, [String], InstructionSet)])
    func theProcessorCheckAdmitsOnlyWholeLevels(processor: String, absent: [String], best: InstructionSet) throws {
        #if arch(x86_64)
            let all = ProcessorFeatures.requirements(of: .avx512)
            let absentFeatures = all.filter { absent.contains($0.name) }
            try #require(absentFeatures.count == absent.count, "unknown feature names in \(absent)")
            let features = ProcessorFeatures(Self.words(with: all.filter { !absent.contains($0.name) }))
            #expect(features.runnable(InstructionSet.allCases).first == best, "\(processor)")
            #expect(features.supports(.baseline))
            #expect(!features.supports(.neon))
            if best != .avx512 { #expect(!features.missing(for: .avx512).isEmpty) }
            if best == .baseline {
                #expect(
                    Set(features.missing(for: .avx2)).isSuperset(
                        of: absent.filter { name in
                            ProcessorFeatures.requirements(of: .avx2).contains { $0.name == name }
                        }), "\(processor): the message names what is missing")
            }
            #expect(ProcessorFeatures(rnn_cpuid_words()).runnable(InstructionSet.allCases) == [.baseline])
        #endif
    }

    /// CPUID words with exactly `features` set.
    private static func words(with features: [ProcessorFeatures.Feature]) -> rnn_cpuid_words {
        var words = rnn_cpuid_words()
        for feature in features {
            switch feature.word {
            case .leaf1ECX: words.leaf1_ecx |= 1 << UInt32(feature.bit)
            case .leaf7EBX: words.leaf7_ebx |= 1 << UInt32(feature.bit)
            case .extended1ECX: words.extended1_ecx |= 1 << UInt32(feature.bit)
            case .xcr0: words.xcr0 |= 1 << UInt64(feature.bit)
            }
        }
        return words
    }

    /// The bit positions agree with what Linux reads from the
    /// same CPUID leaves (`/proc/cpuinfo`), an independent decoding.
    @Test func theHostsFeatureBitsMatchTheKernelsFlags() throws {
        #if arch(x86_64) && os(Linux)
            let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            let line = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
            let flags = Set(line.split(separator: ":").last!.split(separator: " ").map(String.init))
            let linuxNames = [
                "SSE3": "pni", "SSSE3": "ssse3", "CMPXCHG16B": "cx16", "SSE4.1": "sse4_1", "SSE4.2": "sse4_2",
                "POPCNT": "popcnt", "LAHF/SAHF": "lahf_lm", "FMA": "fma", "MOVBE": "movbe", "XSAVE": "xsave",
                "AVX": "avx", "F16C": "f16c", "BMI1": "bmi1", "AVX2": "avx2", "BMI2": "bmi2", "LZCNT": "abm",
                "AVX512F": "avx512f", "AVX512DQ": "avx512dq", "AVX512CD": "avx512cd", "AVX512BW": "avx512bw",
                "AVX512VL": "avx512vl"
            ]
            var compared = 0
            for feature in ProcessorFeatures.requirements(of: .avx512) {
                guard let name = linuxNames[feature.name] else { continue }  // OSXSAVE and XCR0: not listed by Linux
                #expect(ProcessorFeatures.host.has(feature) == flags.contains(name), "\(feature.name) (\(name))")
                compared += 1
            }
            #expect(compared == linuxNames.count)
        #endif
    }

    /// Every variant but x86-64's baseline fuses its multiply-adds; the
    /// baseline uses a multiply and an add.
    @Test(arguments: KernelSelection.testedVariants)
    func fusedMultiplyAddWhereTheVariantHasIt(kernels: KernelSelection) {
        KernelSelection.with(kernels) {
            #expect(Kernels.current.hasFusedMultiplyAdd == (kernels.instructionSet != .baseline))
        }
    }

    /// Without FMA in the target, `SIMD.addingProduct` becomes one libm
    /// `fmaf` call per lane, about 100 times slower: the baseline variant's
    /// object files must not reference `fmaf` at all.
    @Test func theBaselineVariantCallsNoLibmFMA() throws {
        #if arch(x86_64)
            let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let objects = try objectFiles(of: "KernelsBaseline", under: packageRoot.appending(path: ".build"))
            try #require(!objects.isEmpty, "no object files of KernelsBaseline under .build")
            for object in objects {
                let undefined = try run("/usr/bin/env", ["nm", "-u", object.path])
                #expect(
                    !undefined.split(separator: "\n").contains { $0.hasSuffix(" fmaf") || $0.hasSuffix(" fma") },
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
            let packageRoot = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
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
