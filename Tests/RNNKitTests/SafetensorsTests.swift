import Foundation
import Testing

@testable import RNNKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Helpers

/// A safetensors file from a header text and data bytes; `headerLength`
/// overrides the length prefix.
private func safetensorsBytes(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    safetensorsBytes(Array(header.utf8), data: data, headerLength: headerLength)
}

private func safetensorsBytes(_ header: [UInt8], data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (headerLength ?? UInt64(header.count)).littleEndian) { bytes.append(contentsOf: $0) }
    return bytes + header + data
}

/// One header entry as JSON text.
private func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
}

/// A fresh empty directory, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("rnnkit-tests-\(UInt64.random(in: .min ... .max))", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    return url
}

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator, so that
/// the fuzz test mutates the same way on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One tensor of every dtype, with distinctive bytes, plus awkward shapes.
private func tensorOfEveryDType() throws -> [String: Tensor] {
    var tensors: [String: Tensor] = [:]
    for (index, dtype) in TensorDType.allCases.enumerated() {
        let shape = [2, 3]
        let bytes = (0..<(6 * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 * 37 + index) }
        tensors["t_\(dtype.rawValue.lowercased())"] = try Tensor(dtype: dtype, shape: shape, bytes: bytes)
    }
    tensors["scalar"] = Tensor(floats: [3.5], shape: [])
    tensors["empty"] = Tensor(floats: [], shape: [0, 4])
    tensors["wéight.ü"] = Tensor(int32: [1, -2], shape: [2])
    return tensors
}

// MARK: - Reading and writing

@Suite("Safetensors")
struct SafetensorsTests {
    @Test("dtype byte sizes")
    func dtypeByteSizes() {
        let sizes = Dictionary(uniqueKeysWithValues: TensorDType.allCases.map { ($0.rawValue, $0.byteSize) })
        #expect(
            sizes == [
                "F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1
            ])
    }

    /// The exact bytes `safetensors.torch.save` (safetensors 0.8.0) wrote for
    /// these tensors, with its header text kept verbatim.
    @Test("reads a file written by PyTorch's safetensors byte for byte")
    func readsReferenceFile() throws {
        let header =
            #"{"__metadata__":{"format":"pt"},"steps":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"#
            + #""weight":{"dtype":"F32","shape":[2,3],"data_offsets":[16,40]},"#
            + #""scale":{"dtype":"BF16","shape":[2],"data_offsets":[40,44]},"#
            + #""bias":{"dtype":"F16","shape":[3],"data_offsets":[44,50]},"#
            + #""mask":{"dtype":"BOOL","shape":[2],"data_offsets":[50,52]}}       "#
        let data: [UInt8] = [
            0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // steps
            0x00, 0x00, 0x20, 0xC0, 0x00, 0x00, 0xC0, 0xBF, 0x00, 0x00, 0x00, 0xBF,  // weight
            0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x20, 0x40,
            0x80, 0x3F, 0x20, 0xBE,  // scale
            0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38,  // bias
            0x01, 0x00  // mask
        ]
        let bytes = safetensorsBytes(header, data: data)
        #expect(bytes.count == 396)
        #expect(Array(bytes.prefix(8)) == [0x50, 0x01, 0, 0, 0, 0, 0, 0])

        let file = try SafetensorsFile(bytes: bytes, source: "reference.safetensors")
        #expect(file.metadata == ["format": "pt"])
        #expect(Set(file.tensors.keys) == ["steps", "weight", "scale", "bias", "mask"])
        #expect(try file.integers("steps", shape: [2]) == [7, -1])
        #expect(try file.floats("weight", shape: [2, 3]) == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
        #expect(try file.floats("scale", shape: [2]) == [1.0, -0.15625])
        #expect(try file.floats("bias", shape: [3]) == [1.0, -2.0, 0.5])
        #expect(try file.tensor("mask", dtype: .bool, shape: [2]).bytes == [1, 0])
    }

    @Test("every dtype round-trips through a file with its metadata")
    func roundTripsEveryDType() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")
        let metadata = [
            "format": "pt", "note": "quote \" backslash \\ newline \n tab \t nul \u{0} é 😀", "": "empty key"
        ]
        let original = SafetensorsFile(metadata: metadata, tensors: try tensorOfEveryDType())

        try original.write(to: url)
        let loaded = try SafetensorsFile(contentsOf: url)

        #expect(loaded.metadata == metadata)
        #expect(loaded.tensors == original.tensors)
        #expect(loaded.source == url.path)
        #expect(try loaded.serialized() == original.serialized())
    }

    @Test("serialization is deterministic, padded to 8 bytes and aligned")
    func serializedLayout() throws {
        let file = SafetensorsFile(tensors: try tensorOfEveryDType())
        let bytes = try file.serialized()
        #expect(try SafetensorsFile(bytes: bytes, source: "copy").serialized() == bytes)

        let headerLength = Int(SafetensorsFile.headerLength(bytes[0..<8]))
        #expect(headerLength % 8 == 0)
        let header = try JSONValue(parsing: Array(bytes[8..<(8 + headerLength)]))
        #expect(header.objectValue?["__metadata__"] == nil)  // omitted when empty

        // Tensors are laid out largest element first, then by name, each
        // aligned to its element size.
        #expect(file.names.first == "t_f64")
        #expect(file.names.last == "t_u8")
        var expectedBegin = 0
        for name in file.names {
            let fields = try #require(header.objectValue?[name]?.objectValue)
            let offsets = try #require(fields["data_offsets"]?.arrayValue).compactMap(\.integerValue)
            let dtype = try #require(file.tensors[name]?.dtype)
            #expect(offsets[0] == expectedBegin)
            #expect((8 + headerLength + offsets[0]) % dtype.byteSize == 0, "\(name) is misaligned")
            expectedBegin = offsets[1]
        }
        #expect(8 + headerLength + expectedBegin == bytes.count)
    }

    @Test("F16 and BF16 convert exactly")
    func halfPrecisionConversion() throws {
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00, 0xFC00, 0x3555]
        let halfBytes = halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let half = try Tensor(dtype: .float16, shape: [halves.count], bytes: halfBytes).floats()
        #expect(half == [1, -2, 65504, 0x1p-24, 0x1p-14, -0.0, .infinity, -.infinity, 0.333251953125])
        #expect(half[5].sign == .minus)
        let nan = try Tensor(dtype: .float16, shape: [1], bytes: [0x01, 0x7E]).floats()
        #expect(nan[0].isNaN)

        let bfloats = try Tensor(dtype: .bfloat16, shape: [3], bytes: [0x80, 0x3F, 0x49, 0x40, 0x80, 0xFF]).floats()
        #expect(bfloats == [1, 3.140625, -.infinity])

        let doubles = try Tensor(doubles: [0.5, -1e300, 1e-300], shape: [3]).floats()
        #expect(doubles == [0.5, -.infinity, 0])
    }

    @Test("integers read from every integer dtype, sign-extended")
    func integerConversion() throws {
        #expect(try Tensor(int64: [.max, .min, -1], shape: [3]).integers() == [.max, .min, -1])
        #expect(try Tensor(int32: [.max, .min, -1], shape: [3]).integers() == [Int(Int32.max), Int(Int32.min), -1])
        #expect(try Tensor(dtype: .int16, shape: [2], bytes: [0xFF, 0x7F, 0x00, 0x80]).integers() == [32767, -32768])
        #expect(try Tensor(dtype: .int8, shape: [2], bytes: [0x7F, 0x80]).integers() == [127, -128])
        #expect(try Tensor(dtype: .uint8, shape: [2], bytes: [0x7F, 0xFF]).integers() == [127, 255])
    }

    @Test("tensors refuse bad construction and the wrong conversions")
    func tensorErrors() throws {
        #expect(throws: TensorError.byteCountMismatch(dtype: .float32, shape: [2], expected: 8, actual: 7)) {
            try Tensor(dtype: .float32, shape: [2], bytes: [UInt8](repeating: 0, count: 7))
        }
        #expect(throws: TensorError.negativeDimension(shape: [2, -1])) {
            try Tensor(dtype: .uint8, shape: [2, -1], bytes: [])
        }
        #expect(throws: TensorError.elementCountOverflow(shape: [1 << 40, 1 << 40], dtype: .uint8)) {
            try Tensor(dtype: .uint8, shape: [1 << 40, 1 << 40], bytes: [])
        }
        #expect(throws: TensorError.notFloatingPoint(.int64)) { try Tensor(int64: [1], shape: [1]).floats() }
        #expect(throws: TensorError.notInteger(.float32)) { try Tensor(floats: [1], shape: [1]).integers() }
        #expect(throws: TensorError.notInteger(.bool)) { try Tensor(dtype: .bool, shape: [1], bytes: [1]).integers() }
        #expect(Tensor(floats: [], shape: [0, 4]).elementCount == 0)
        #expect(Tensor(floats: [2], shape: []).elementCount == 1)
    }

    @Test("looking up a tensor checks name, dtype and shape")
    func lookupErrors() throws {
        let file = SafetensorsFile(
            tensors: ["weight": Tensor(floats: [1, 2, 3, 4, 5, 6], shape: [2, 3])], source: "m.st")
        #expect(try file.floats("weight", shape: [2, 3]) == [1, 2, 3, 4, 5, 6])
        #expect(throws: SafetensorsError.missingTensor(source: "m.st", tensor: "bias")) {
            try file.tensor("bias")
        }
        #expect(throws: SafetensorsError.wrongShape(source: "m.st", tensor: "weight", expected: [3, 2], actual: [2, 3]))
        {
            try file.floats("weight", shape: [3, 2])
        }
        #expect(
            throws: SafetensorsError.wrongDType(
                source: "m.st", tensor: "weight", expected: [.float64], actual: .float32)
        ) {
            try file.tensor("weight", dtype: .float64)
        }
        #expect(
            throws: SafetensorsError.wrongDType(
                source: "m.st", tensor: "weight", expected: [.int64, .int32, .int16, .int8, .uint8], actual: .float32)
        ) {
            try file.integers("weight")
        }
        let error = SafetensorsError.wrongShape(source: "m.st", tensor: "weight", expected: [3, 2], actual: [2, 3])
        #expect(error.description == "m.st: tensor 'weight' has shape [2, 3], expected [3, 2]")
    }

    @Test("readers accept unpadded headers, surrounding whitespace, null metadata and extra fields")
    func lenientWhereTheFormatAllows() throws {
        let unpadded = safetensorsBytes("{" + entry("a", "U8", [3], 0, 3) + "}", data: [1, 2, 3])
        #expect(try SafetensorsFile(bytes: unpadded, source: "u").tensors["a"]?.bytes == [1, 2, 3])

        let spaced = safetensorsBytes(
            " \n{\"__metadata__\": null, \"a\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [0, 1], \"x\": "
                + "1}}\t  ",
            data: [9])
        let file = try SafetensorsFile(bytes: spaced, source: "s")
        #expect(file.metadata.isEmpty)
        #expect(file.tensors["a"] == (try Tensor(dtype: .uint8, shape: [], bytes: [9])))

        let empty = try SafetensorsFile(bytes: safetensorsBytes("{}"), source: "e")
        #expect(empty.tensors.isEmpty)

        // Zero-sized tensors may sit at the boundary between two others.
        let zeros = safetensorsBytes(
            "{" + entry("a", "U8", [1], 0, 1) + "," + entry("z", "F32", [0, 5], 1, 1) + ","
                + entry("b", "U8", [1], 1, 2) + "}", data: [1, 2])
        #expect(try SafetensorsFile(bytes: zeros, source: "z").tensors["z"]?.shape == [0, 5])
    }

    // MARK: Malformed input

    struct MalformedCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expected: SafetensorsError
        var testDescription: String { name }
    }

    static let malformedCases: [MalformedCase] = {
        let s = "bad.safetensors"
        func header(_ entries: String...) -> String { "{" + entries.joined(separator: ",") + "}" }
        return [
            MalformedCase(name: "empty file", bytes: [], expected: .fileTooShort(source: s, size: 0)),
            MalformedCase(
                name: "truncated length prefix", bytes: [8, 0, 0, 0, 0], expected: .fileTooShort(source: s, size: 5)),
            MalformedCase(
                name: "header length 100 GB in a 1 KB file",
                bytes: safetensorsBytes(
                    "{}", data: [UInt8](repeating: 0x20, count: 1014), headerLength: 100_000_000_000),
                expected: .headerLengthExceedsFile(source: s, headerLength: 100_000_000_000, available: 1016)),
            MalformedCase(
                name: "header length 2^64-1",
                bytes: safetensorsBytes("{}", headerLength: .max),
                expected: .headerLengthExceedsFile(source: s, headerLength: .max, available: 2)),
            MalformedCase(
                name: "truncated header",
                bytes: Array(safetensorsBytes(header(entry("a", "U8", [1], 0, 1)), data: [1]).prefix(30)),
                expected: .headerLengthExceedsFile(source: s, headerLength: 53, available: 22)),
            MalformedCase(
                name: "header not UTF-8",
                bytes: safetensorsBytes([0x7B, 0x22, 0x61, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]),
                expected: .headerNotUTF8(source: s, offset: 3)),
            MalformedCase(
                name: "header not JSON",
                bytes: safetensorsBytes("{\"a\":}"),
                expected: .headerNotJSON(
                    source: s, .unexpectedByte(UInt8(ascii: "}"), offset: 5, expected: "a JSON value"))),
            MalformedCase(
                name: "header with content after the object",
                bytes: safetensorsBytes("{} {}"),
                expected: .headerNotJSON(source: s, .trailingContent(offset: 3))),
            MalformedCase(
                name: "duplicate tensor name",
                bytes: safetensorsBytes(header(entry("a", "U8", [1], 0, 1), entry("a", "U8", [1], 1, 2)), data: [1, 2]),
                expected: .headerNotJSON(source: s, .duplicateKey("a", offset: 53))),
            MalformedCase(
                name: "100000 nested arrays",
                bytes: safetensorsBytes(String(repeating: "[", count: 100_000)),
                expected: .headerNotJSON(source: s, .nestingTooDeep(offset: 64, limit: 64))),
            MalformedCase(
                name: "header not an object",
                bytes: safetensorsBytes("[1,2]"),
                expected: .headerNotObject(source: s, found: "[1,2]")),
            MalformedCase(
                name: "entry not an object",
                bytes: safetensorsBytes("{\"w\":5}"),
                expected: .entryNotObject(source: s, tensor: "w", found: "5")),
            MalformedCase(
                name: "missing data_offsets",
                bytes: safetensorsBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}"),
                expected: .missingField(source: s, tensor: "w", field: "data_offsets")),
            MalformedCase(
                name: "dtype not a string",
                bytes: safetensorsBytes(
                    header(#""w":{"dtype":4,"shape":[],"data_offsets":[0,4]}"#), data: [0, 0, 0, 0]),
                expected: .invalidField(
                    source: s, tensor: "w", field: "dtype", expected: "a string such as \"F32\"", found: "4")),
            MalformedCase(
                name: "unknown dtype",
                bytes: safetensorsBytes(header(entry("w", "F128", [1], 0, 16)), data: [UInt8](repeating: 0, count: 16)),
                expected: .unknownDType(source: s, tensor: "w", dtype: "F128")),
            MalformedCase(
                name: "shape not an array",
                bytes: safetensorsBytes(header(#""w":{"dtype":"U8","shape":3,"data_offsets":[0,3]}"#), data: [0, 0, 0]),
                expected: .invalidField(
                    source: s, tensor: "w", field: "shape", expected: "an array of non-negative integers", found: "3")),
            MalformedCase(
                name: "negative dimension",
                bytes: safetensorsBytes(header(entry("w", "U8", [2, -1], 0, 0))),
                expected: .invalidField(
                    source: s, tensor: "w", field: "shape[1]", expected: "a non-negative integer", found: "-1")),
            MalformedCase(
                name: "fractional dimension",
                bytes: safetensorsBytes(header(#""w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}"#)),
                expected: .invalidField(
                    source: s, tensor: "w", field: "shape[0]", expected: "a non-negative integer", found: "1.5")),
            MalformedCase(
                name: "dimension beyond Int",
                bytes: safetensorsBytes(
                    header(#""w":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}"#)),
                expected: .invalidField(
                    source: s, tensor: "w", field: "shape[0]", expected: "a non-negative integer",
                    found: "1.8446744073709552e+19")),
            MalformedCase(
                name: "element count overflows: [2^40, 2^40]",
                bytes: safetensorsBytes(header(entry("w", "F32", [1 << 40, 1 << 40], 0, 4)), data: [0, 0, 0, 0]),
                expected: .elementCountOverflow(source: s, tensor: "w", shape: [1 << 40, 1 << 40], dtype: .float32)),
            MalformedCase(
                name: "byte count overflows: F64 [2^61]",
                bytes: safetensorsBytes(
                    header(entry("w", "F64", [1 << 61], 0, 8)), data: [UInt8](repeating: 0, count: 8)),
                expected: .elementCountOverflow(source: s, tensor: "w", shape: [1 << 61], dtype: .float64)),
            MalformedCase(
                name: "data_offsets with one integer",
                bytes: safetensorsBytes(header(#""w":{"dtype":"U8","shape":[1],"data_offsets":[0]}"#), data: [0]),
                expected: .invalidField(
                    source: s, tensor: "w", field: "data_offsets", expected: "two non-negative integers [begin, end]",
                    found: "[0]")),
            MalformedCase(
                name: "data_offsets with a string",
                bytes: safetensorsBytes(header(#""w":{"dtype":"U8","shape":[1],"data_offsets":[0,"1"]}"#), data: [0]),
                expected: .invalidField(
                    source: s, tensor: "w", field: "data_offsets", expected: "two non-negative integers [begin, end]",
                    found: "[0,\"1\"]")),
            MalformedCase(
                name: "negative offset",
                bytes: safetensorsBytes(header(entry("w", "U8", [1], -1, 0)), data: [0]),
                expected: .invalidField(
                    source: s, tensor: "w", field: "data_offsets", expected: "two non-negative integers [begin, end]",
                    found: "[-1,0]")),
            MalformedCase(
                name: "begin after end",
                bytes: safetensorsBytes(header(entry("w", "U8", [4], 8, 4)), data: [UInt8](repeating: 0, count: 8)),
                expected: .offsetsReversed(source: s, tensor: "w", begin: 8, end: 4)),
            MalformedCase(
                name: "end beyond the data",
                bytes: safetensorsBytes(header(entry("w", "F32", [4], 0, 16)), data: [UInt8](repeating: 0, count: 8)),
                expected: .offsetsBeyondData(source: s, tensor: "w", end: 16, dataSize: 8)),
            MalformedCase(
                name: "offsets span the wrong size",
                bytes: safetensorsBytes(header(entry("w", "F32", [3], 0, 8)), data: [UInt8](repeating: 0, count: 8)),
                expected: .sizeMismatch(
                    source: s, tensor: "w", dtype: .float32, shape: [3], expectedBytes: 12, actualBytes: 8)),
            MalformedCase(
                name: "overlapping tensors",
                bytes: safetensorsBytes(
                    header(entry("a", "F32", [2], 0, 8), entry("b", "F32", [2], 4, 12)),
                    data: [UInt8](repeating: 0, count: 12)),
                expected: .overlappingTensors(source: s, tensor: "b", range: 4..<12, other: "a", otherRange: 0..<8)),
            MalformedCase(
                name: "two tensors on the same bytes",
                bytes: safetensorsBytes(
                    header(entry("b", "F32", [1], 0, 4), entry("a", "I32", [1], 0, 4)), data: [0, 0, 0, 0]),
                expected: .overlappingTensors(source: s, tensor: "b", range: 0..<4, other: "a", otherRange: 0..<4)),
            MalformedCase(
                name: "empty tensor inside another",
                bytes: safetensorsBytes(
                    header(entry("a", "F32", [2], 0, 8), entry("z", "F32", [0], 4, 4)),
                    data: [UInt8](repeating: 0, count: 8)),
                expected: .overlappingTensors(source: s, tensor: "z", range: 4..<4, other: "a", otherRange: 0..<8)),
            MalformedCase(
                name: "hole between tensors",
                bytes: safetensorsBytes(
                    header(entry("a", "F32", [1], 0, 4), entry("b", "F32", [1], 8, 12)),
                    data: [UInt8](repeating: 0, count: 12)),
                expected: .uncoveredData(source: s, range: 4..<8)),
            MalformedCase(
                name: "hole before the first tensor",
                bytes: safetensorsBytes(header(entry("a", "F32", [1], 4, 8)), data: [UInt8](repeating: 0, count: 8)),
                expected: .uncoveredData(source: s, range: 0..<4)),
            MalformedCase(
                name: "bytes after the last tensor",
                bytes: safetensorsBytes(header(entry("a", "F32", [1], 0, 4)), data: [UInt8](repeating: 0, count: 7)),
                expected: .uncoveredData(source: s, range: 4..<7)),
            MalformedCase(
                name: "data but no tensors",
                bytes: safetensorsBytes("{}", data: [1]),
                expected: .uncoveredData(source: s, range: 0..<1)),
            MalformedCase(
                name: "metadata not an object",
                bytes: safetensorsBytes(#"{"__metadata__":["a"]}"#),
                expected: .metadataNotObject(source: s, found: "[\"a\"]")),
            MalformedCase(
                name: "metadata value not a string",
                bytes: safetensorsBytes(#"{"__metadata__":{"epoch":3}}"#),
                expected: .metadataValueNotString(source: s, key: "epoch", found: "3"))
        ]
    }()

    @Test("malformed input throws its specific error", arguments: malformedCases)
    func malformedInput(_ sample: MalformedCase) {
        #expect(throws: sample.expected) {
            try SafetensorsFile(bytes: sample.bytes, source: "bad.safetensors")
        }
    }

    @Test("errors describe what, where and what was expected")
    func errorDescriptions() {
        #expect(
            SafetensorsError.sizeMismatch(
                source: "m.safetensors", tensor: "bias_ih_l0", dtype: .float32, shape: [3], expectedBytes: 12,
                actualBytes: 8
            ).description == "m.safetensors: tensor 'bias_ih_l0': data_offsets span 8 bytes, but F32 [3] needs 12")
        #expect(
            SafetensorsError.headerLengthExceedsFile(source: "m", headerLength: 100_000_000_000, available: 1016)
                .description == "m: header length is 100000000000 bytes, but only 1016 bytes follow the length prefix")
        #expect(
            SafetensorsError.io(path: "/x/m", operation: "create", code: ENOENT).description
                .hasPrefix("/x/m: create failed: No such file or directory (errno \(ENOENT))"))
    }

    // MARK: Files

    @Test("the header length is checked against the file size before anything is read")
    func headerTooLargeInSparseFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("huge.safetensors")
        // A sparse file just over the 100 MB header limit, which takes no disk.
        let size = UInt64(SafetensorsFile.maxHeaderLength) + 16
        #expect(
            FileManager.default.createFile(
                atPath: url.path, contents: Data(safetensorsBytes([], headerLength: size - 8))))
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: size)
        try handle.close()

        #expect(
            throws: SafetensorsError.headerTooLarge(
                source: url.path, headerLength: size - 8, limit: SafetensorsFile.maxHeaderLength)
        ) {
            try SafetensorsFile(contentsOf: url)
        }
    }

    @Test("reading a missing file or a directory reports the I/O error")
    func readErrors() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.safetensors")
        #expect(throws: SafetensorsError.io(path: missing.path, operation: "open", code: ENOENT)) {
            try SafetensorsFile(contentsOf: missing)
        }
        #expect(throws: SafetensorsError.io(path: directory.path, operation: "read", code: EISDIR)) {
            try SafetensorsFile(contentsOf: directory)
        }
    }

    @Test("writes are atomic and leave no temporary file behind")
    func atomicWrite() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("model.safetensors")

        try SafetensorsFile(tensors: ["w": Tensor(floats: [1, 2], shape: [2])]).write(to: url)
        try SafetensorsFile(tensors: ["w": Tensor(floats: [3], shape: [1])]).write(to: url)  // replaces it

        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
        #expect(try SafetensorsFile(contentsOf: url).floats("w") == [3])
    }

    @Test("a failed write leaves nothing behind")
    func failedWrite() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = SafetensorsFile(tensors: ["w": Tensor(floats: [1], shape: [1])])

        // The directory does not exist: the temporary file cannot be created.
        let orphan = directory.appendingPathComponent("no/such/dir/model.safetensors")
        #expect(throws: SafetensorsError.io(path: orphan.path, operation: "create", code: ENOENT)) {
            try file.write(to: orphan)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)

        // The target is a directory: everything succeeds up to the rename,
        // and the written temporary file must then be removed.
        let occupied = directory.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: occupied, withIntermediateDirectories: false)
        #expect(throws: SafetensorsError.io(path: occupied.path, operation: "rename", code: EISDIR)) {
            try file.write(to: occupied)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["occupied"])

        // A tensor may not take the metadata's name; nothing is written.
        let reserved = SafetensorsFile(tensors: ["__metadata__": Tensor(floats: [1], shape: [1])], source: "r")
        #expect(throws: SafetensorsError.reservedTensorName(source: "r", tensor: "__metadata__")) {
            try reserved.write(to: directory.appendingPathComponent("r.safetensors"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["occupied"])
    }

    /// Each file under Tests/Fixtures/malformed/safetensors, and the error it must give.
    @Test("malformed fixture files are refused with their specific errors")
    func malformedFixtures() throws {
        let folder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/malformed/safetensors")
        let expected: [String: (String) -> SafetensorsError] = [
            "truncated-length-prefix": { .fileTooShort(source: $0, size: 5) },
            "header-length-100GB": {
                .headerLengthExceedsFile(source: $0, headerLength: 100_000_000_000, available: 1016)
            },
            "header-invalid-utf8": { .headerNotUTF8(source: $0, offset: 3) },
            "header-not-json": {
                .headerNotJSON(source: $0, .unexpectedByte(UInt8(ascii: "}"), offset: 54, expected: "a string key"))
            },
            "overlapping-offsets": {
                .overlappingTensors(source: $0, tensor: "b", range: 4..<12, other: "a", otherRange: 0..<8)
            },
            "hole-between-tensors": { .uncoveredData(source: $0, range: 4..<8) },
            "size-mismatch": {
                .sizeMismatch(source: $0, tensor: "w", dtype: .float32, shape: [3], expectedBytes: 12, actualBytes: 8)
            },
            "shape-overflow": {
                .elementCountOverflow(source: $0, tensor: "w", shape: [1 << 40, 1 << 40], dtype: .float32)
            },
            "unknown-dtype": { .unknownDType(source: $0, tensor: "w", dtype: "F128") },
            "offsets-beyond-data": { .offsetsBeyondData(source: $0, tensor: "w", end: 16, dataSize: 8) },
            "deep-nesting": { .headerNotJSON(source: $0, .nestingTooDeep(offset: 64, limit: 64)) }
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".safetensors") }.sorted()
        #expect(files.count == expected.count)
        for file in files {
            let url = folder.appendingPathComponent(file)
            let name = String(file.dropLast(".safetensors".count))
            guard let error = expected[name] else {
                Issue.record("fixture \(file) has no expected error in this test")
                continue
            }
            #expect(throws: error(url.path)) { try SafetensorsFile(contentsOf: url) }
        }
    }

    // MARK: Fuzzing

    /// Mutates a valid file thousands of times; every parse must either
    /// succeed or throw a SafetensorsError, and whatever parses must
    /// serialize to a file that parses to the same tensors.
    @Test("random mutations never trap")
    func mutationFuzz() throws {
        let valid = try SafetensorsFile(
            metadata: ["format": "pt", "epoch": "3"],
            tensors: [
                "weight_ih_l0": Tensor(floats: (0..<12).map(Float.init), shape: [4, 3]),
                "bias_ih_l0": Tensor(floats: [1, 2, 3, 4], shape: [4]),
                "steps": Tensor(int64: [1, -1], shape: [2]),
                "empty": Tensor(int32: [], shape: [0])
            ]
        ).serialized()
        let jsonBytes = Array(#"{}[]",:0-9e.\u"#.utf8)
        var random = SplitMix64(seed: 0x5AFE_7E45)
        var (accepted, rejected) = (0, 0)

        for _ in 0..<4000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<8, using: &random) {
                case 0 where !bytes.isEmpty:
                    bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                case 1:
                    bytes.insert(UInt8.random(in: .min ... .max, using: &random), at: position)
                case 2 where !bytes.isEmpty:
                    bytes.remove(at: position)
                case 3:
                    bytes.removeLast(Int.random(in: 0...min(bytes.count, 64), using: &random))
                case 4 where bytes.count >= 8:
                    // Nudge the header length, or replace it outright.
                    let length = SafetensorsFile.headerLength(bytes[0..<8])
                    let edited =
                        Bool.random(using: &random)
                        ? length &+ UInt64(bitPattern: Int64.random(in: -16...16, using: &random))
                        : UInt64.random(in: .min ... .max, using: &random) >> UInt64.random(in: 0..<64, using: &random)
                    withUnsafeBytes(of: edited.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
                case 5 where bytes.count > 8:
                    bytes[Int.random(in: 8..<bytes.count, using: &random)] = jsonBytes.randomElement(using: &random)!
                case 6 where bytes.count > 8:
                    // Duplicate a run of header bytes in place.
                    let start = Int.random(in: 8..<bytes.count, using: &random)
                    let run = bytes[start..<min(bytes.count, start + Int.random(in: 1...12, using: &random))]
                    bytes.insert(contentsOf: run, at: start)
                default:
                    bytes[position..<min(bytes.count, position + 8)].reverse()
                }
            }
            do {
                let file = try SafetensorsFile(bytes: bytes, source: "fuzz")
                accepted += 1
                let reparsed = try SafetensorsFile(bytes: file.serialized(), source: "fuzz-again")
                #expect(reparsed.tensors == file.tensors)
                #expect(reparsed.metadata == file.metadata)
            } catch is SafetensorsError {
                rejected += 1
            } catch {
                Issue.record("unexpected error type \(type(of: error)): \(error)")
            }
        }
        #expect(accepted > 0)
        #expect(rejected > 0)
    }
}

/// A model whose weights overflowed is not written: reading the file back
/// would refuse it anyway, so writing it would only lose the previous one.
@Test func aModelWithNonFiniteWeightsIsNotWritten() throws {
    let model = try Model(
        ModelConfiguration(
            cell: .gru, input: .dense(features: 2), hiddenSize: 3, outputSize: 1,
            topology: .manyToOne), seed: 1)
    var weights = model.parameter("rnn.weight_hh_l0")!
    weights[4] = -.infinity
    try model.setParameter("rnn.weight_hh_l0", to: weights)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "nonfinite-\(UUID().uuidString).safetensors")
    #expect(
        throws: ModelError.nonFiniteParameter(name: "rnn.weight_hh_l0", element: 4, value: -.infinity, source: url.path)
    ) {
        try model.write(to: url)
    }
    #expect(!FileManager.default.fileExists(atPath: url.path))
}
