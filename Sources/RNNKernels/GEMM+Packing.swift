// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it, so that the kernel streams both operands contiguously whatever the
// operands' strides and transposition. Panels cut by the edge of the matrix are
// zero-padded: the kernel always computes a whole tile, and the padding only
// reaches tile elements that are never stored.

extension GEMM {
    /// Packs op(A)[rows, depth] into the row panels `_RowPanels` cuts it into:
    /// panel p holds its rows as `depth.count` groups of `microRows` floats
    /// (one per row, for one k; zero past the panel's rows), panels one after
    /// another.
    ///
    /// - Parameters:
    ///   - a: The first element of A: op(A) itself with row stride `lda`, or
    ///     its transpose when `transposed`.
    static func packA(
        _ a: UnsafePointer<Float>, lda: Int, transposed: Bool,
        rows: Range<Int>, depth: Range<Int>, into packed: UnsafeMutablePointer<Float>
    ) {
        let depthCount = depth.count
        let panelSize = microRows * depthCount
        let panels = _RowPanels(rows: rows.count)
        for index in 0..<panels.count {
            let panel = packed + index * panelSize
            let firstRow = rows.lowerBound + panels.firstRow(of: index)
            let panelRows = panels.rows(of: index)
            if panelRows < microRows {
                panel.update(repeating: 0, count: panelSize)
            }
            if transposed {
                // op(A)[i, kk] = a[kk·lda + i]: each k holds the panel's rows
                // side by side. Going down the rows panel by panel measured
                // faster than across them, even with lda a multiple of 4 KiB.
                var source = a + depth.lowerBound * lda + firstRow
                var destination = panel
                if panelRows == microRows {
                    for _ in 0..<depthCount {
                        copySix(from: source, to: destination)
                        source += lda
                        destination += microRows
                    }
                } else {
                    for _ in 0..<depthCount {
                        for row in 0..<panelRows { destination[row] = source[row] }
                        source += lda
                        destination += microRows
                    }
                }
            } else if panelRows == microRows {
                // Six row streams, read in step.
                let row0 = a + firstRow * lda + depth.lowerBound
                let row1 = row0 + lda, row2 = row1 + lda, row3 = row2 + lda, row4 = row3 + lda, row5 = row4 + lda
                var destination = panel
                for kk in 0..<depthCount {
                    destination[0] = row0[kk]
                    destination[1] = row1[kk]
                    destination[2] = row2[kk]
                    destination[3] = row3[kk]
                    destination[4] = row4[kk]
                    destination[5] = row5[kk]
                    destination += microRows
                }
            } else {
                for row in 0..<panelRows {
                    let source = a + (firstRow + row) * lda + depth.lowerBound
                    for kk in 0..<depthCount { panel[kk * microRows + row] = source[kk] }
                }
            }
        }
    }

    /// Packs op(B)[depth, columns] into `microColumns`-column panels: panel p
    /// holds columns `columns.lowerBound + 16p ..< +16` as `depth.count` rows
    /// of 16 floats, panels one after another.
    ///
    /// - Parameters:
    ///   - b: The first element of B: op(B) itself with row stride `ldb`, or
    ///     its transpose when `transposed`.
    static func packB(
        _ b: UnsafePointer<Float>, ldb: Int, transposed: Bool,
        depth: Range<Int>, columns: Range<Int>, into packed: UnsafeMutablePointer<Float>
    ) {
        let depthCount = depth.count
        var panel = packed
        for firstColumn in stride(from: columns.lowerBound, to: columns.upperBound, by: microColumns) {
            let panelColumns = min(microColumns, columns.upperBound - firstColumn)
            if panelColumns < microColumns {
                panel.update(repeating: 0, count: microColumns * depthCount)
            }
            if transposed {
                // op(B)[kk, j] = b[j·ldb + kk]: each column of the panel is a row of b.
                for column in 0..<panelColumns {
                    let source = b + (firstColumn + column) * ldb + depth.lowerBound
                    var destination = panel + column
                    for kk in 0..<depthCount {
                        destination.pointee = source[kk]
                        destination += microColumns
                    }
                }
            } else if panelColumns == microColumns {
                var source = b + depth.lowerBound * ldb + firstColumn
                var destination = panel
                for _ in 0..<depthCount {
                    storeVector(loadVector(source), destination)
                    storeVector(loadVector(source + 8), destination + 8)
                    source += ldb
                    destination += microColumns
                }
            } else {
                var source = b + depth.lowerBound * ldb + firstColumn
                var destination = panel
                for _ in 0..<depthCount {
                    destination.update(from: source, count: panelColumns)
                    source += ldb
                    destination += microColumns
                }
            }
            panel += microColumns * depthCount
        }
    }

    /// Six floats in two moves (4 + 2) rather than six.
    @inline(__always)
    static func copySix(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>) {
        let low = UnsafeRawPointer(source).loadUnaligned(as: SIMD4<Float>.self)
        let high = UnsafeRawPointer(source + 4).loadUnaligned(as: SIMD2<Float>.self)
        UnsafeMutableRawPointer(destination).storeBytes(of: low, as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(destination + 4).storeBytes(of: high, as: SIMD2<Float>.self)
    }
}
