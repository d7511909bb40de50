import Foundation

extension SafetensorsFile {
    /// The tensor names in the order ``serialized()`` lays their data out:
    /// by decreasing element size, then by name (UTF-8 byte order).
    ///
    /// With the header padded to a multiple of 8 bytes, this order puts every
    /// tensor's data at an offset that is a multiple of its element size, so
    /// readers that map the file can use it in place.
    public var names: [String] {
        orderedTensors.map(\.name)
    }

    private var orderedTensors: [(name: String, tensor: Tensor)] {
        tensors.map { (name: $0.key, tensor: $0.value) }.sorted { a, b in
            if a.tensor.dtype.byteSize != b.tensor.dtype.byteSize {
                return a.tensor.dtype.byteSize > b.tensor.dtype.byteSize
            }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The file's bytes: length prefix, JSON header padded with spaces to a
    /// multiple of 8 bytes, then the tensors in the order of ``names``.
    ///
    /// The output is deterministic: the same tensors and metadata always give
    /// the same bytes. Metadata is written with keys sorted, and omitted when
    /// empty.
    ///
    /// - Throws: ``SafetensorsError/reservedTensorName(source:tensor:)`` if a
    ///   tensor is called `__metadata__`.
    /// - Complexity: O(*n*) in the size of the output.
    public func serialized() throws -> [UInt8] {
        var header = JSONObject()
        if !metadata.isEmpty {
            var entries = JSONObject()
            for (key, value) in metadata.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                entries[key] = .string(value)
            }
            header["__metadata__"] = .object(entries)
        }
        let ordered = orderedTensors
        var offset = 0
        for (name, tensor) in ordered {
            guard name != "__metadata__" else {
                throw SafetensorsError.reservedTensorName(source: source, tensor: name)
            }
            let end = offset + tensor.bytes.count
            header[name] = [
                "dtype": .string(tensor.dtype.rawValue),
                "shape": .array(tensor.shape.map(JSONValue.integer)),
                "data_offsets": [.integer(offset), .integer(end)]
            ]
            offset = end
        }

        var headerBytes = Array(JSONValue.object(header).serialized().utf8)
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        var output: [UInt8] = []
        output.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: headerBytes)
        for (_, tensor) in ordered {
            output.append(contentsOf: tensor.bytes)
        }
        return output
    }

    /// Writes the file to `url` atomically.
    ///
    /// The bytes go to a temporary file in the same directory, which is
    /// flushed to disk and then renamed over `url`; the directory is flushed
    /// too. Readers see either the old file or the complete new one, never a
    /// partial write, even if the process or machine dies. On failure the
    /// temporary file is removed and `url` is left as it was.
    ///
    /// - Throws: ``SafetensorsError/io(path:operation:code:)`` naming the
    ///   failed operation, or the errors of ``serialized()``.
    public func write(to url: URL) throws {
        try writeFileAtomically(try serialized(), to: url)
    }
}
