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
        if transposed {
            packTransposedA(a, lda: lda, rows: rows, depth: depth, panels: panels, into: packed)
            return
        }
        for index in 0..<panels.count {
            let firstRow = rows.lowerBound + panels.firstRow(of: index)
            packRowPanel(
                a + firstRow * lda + depth.lowerBound, lda: lda, rows: panels.rows(of: index),
                depth: depthCount, into: packed + index * panelSize)
        }
    }

    /// Packs one row panel of an untransposed op(A): `rows` (1...6) rows of
    /// `depth` floats, row stride `lda`, into `depth` groups of `microRows`,
    /// zero past `rows`.
    ///
    /// Eight k at a time: an 8-float load per row, transposed in registers into
    /// 48 contiguous floats (whatever the variant's vector width). Short panels, the 5-row ones a batch of 32 is cut
    /// into among them, take the same path with zeros for the missing rows.
    @inline(__always)
    static func packRowPanel(
        _ row0: UnsafePointer<Float>, lda: Int, rows: Int, depth: Int,
        into panel: UnsafeMutablePointer<Float>
    ) {
        let row1 = row0 + lda, row2 = row1 + lda, row3 = row2 + lda, row4 = row3 + lda, row5 = row4 + lda
        var destination = panel
        let wholeVectors = depth / 8 * 8
        for kk in stride(from: 0, to: wholeVectors, by: 8) {
            let r0 = loadOctet(row0 + kk)
            let r1 = rows > 1 ? loadOctet(row1 + kk) : Octet()
            let r2 = rows > 2 ? loadOctet(row2 + kk) : Octet()
            let r3 = rows > 3 ? loadOctet(row3 + kk) : Octet()
            let r4 = rows > 4 ? loadOctet(row4 + kk) : Octet()
            let r5 = rows > 5 ? loadOctet(row5 + kk) : Octet()
            storeOctet(Octet(r0[0], r1[0], r2[0], r3[0], r4[0], r5[0], r0[1], r1[1]), destination)
            storeOctet(Octet(r2[1], r3[1], r4[1], r5[1], r0[2], r1[2], r2[2], r3[2]), destination + 8)
            storeOctet(Octet(r4[2], r5[2], r0[3], r1[3], r2[3], r3[3], r4[3], r5[3]), destination + 16)
            storeOctet(Octet(r0[4], r1[4], r2[4], r3[4], r4[4], r5[4], r0[5], r1[5]), destination + 24)
            storeOctet(Octet(r2[5], r3[5], r4[5], r5[5], r0[6], r1[6], r2[6], r3[6]), destination + 32)
            storeOctet(Octet(r4[6], r5[6], r0[7], r1[7], r2[7], r3[7], r4[7], r5[7]), destination + 40)
            destination += 8 * microRows
        }
        for kk in wholeVectors..<depth {
            destination[0] = row0[kk]
            destination[1] = rows > 1 ? row1[kk] : 0
            destination[2] = rows > 2 ? row2[kk] : 0
            destination[3] = rows > 3 ? row3[kk] : 0
            destination[4] = rows > 4 ? row4[kk] : 0
            destination[5] = rows > 5 ? row5[kk] : 0
            destination += microRows
        }
    }

    /// Packs op(B)[depth, columns] into `microColumns`-column panels: panel p
    /// holds columns `columns.lowerBound + w·p ..< +w` (w = `microColumns`) as
    /// `depth.count` rows of w floats, panels one after another.
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
            if transposed && panelColumns == microColumns {
                // op(B)[kk, j] = b[j·ldb + kk]: each column of the panel is a
                // row of b. Eight rows by eight k at a time, transposed in registers.
                let source = b + firstColumn * ldb + depth.lowerBound
                let wholeVectors = depthCount / 8 * 8
                for eighth in 0..<microColumns / 8 {
                    let rows = source + 8 * eighth * ldb
                    for kk in stride(from: 0, to: wholeVectors, by: 8) {
                        let r0 = loadOctet(rows + kk), r1 = loadOctet(rows + ldb + kk)
                        let r2 = loadOctet(rows + 2 * ldb + kk), r3 = loadOctet(rows + 3 * ldb + kk)
                        let r4 = loadOctet(rows + 4 * ldb + kk), r5 = loadOctet(rows + 5 * ldb + kk)
                        let r6 = loadOctet(rows + 6 * ldb + kk), r7 = loadOctet(rows + 7 * ldb + kk)
                        let destination = panel + kk * microColumns + 8 * eighth
                        for lane in 0..<8 {
                            storeOctet(
                                Octet(r0[lane], r1[lane], r2[lane], r3[lane], r4[lane], r5[lane], r6[lane], r7[lane]),
                                destination + lane * microColumns)
                        }
                    }
                }
                for column in 0..<microColumns {
                    for kk in wholeVectors..<depthCount {
                        panel[kk * microColumns + column] = source[column * ldb + kk]
                    }
                }
            } else if transposed {
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
                    storeVector(loadVector(source + Vector.scalarCount), destination + Vector.scalarCount)
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

    /// op(A)[i, kk] = a[kk·lda + i]: each k holds the block's rows side by
    /// side, so the block is read a whole row of `a` at a time (contiguous,
    /// prefetchable) and scattered to the panels. Reading one panel's six
    /// columns down all of depth instead touches a new line per k, at a
    /// stride that is often a multiple of 4 KiB, and fetches each line once
    /// per panel it spans.
    static func packTransposedA(
        _ a: UnsafePointer<Float>, lda: Int, rows: Range<Int>, depth: Range<Int>,
        panels: _RowPanels, into packed: UnsafeMutablePointer<Float>
    ) {
        let depthCount = depth.count
        let panelSize = microRows * depthCount
        // Panels of `microRows` rows come first.
        let fullPanels =
            panels.baseRows == microRows
            ? panels.count
            : panels.baseRows == microRows - 1 ? panels.longPanels : 0
        for index in fullPanels..<panels.count {
            (packed + index * panelSize).update(repeating: 0, count: panelSize)
        }
        // In tiles of `tileDepth` k by `tilePanels` full panels: the tile's
        // rows of `a` (a few lines each) and its panels' slices (contiguous
        // runs) all stay in L1, where walking one k across every panel
        // would write to as many places, 6 KiB apart, as there are panels,
        // and those few cache sets would keep evicting one another.
        let tileDepth = 16, tilePanels = 8
        for firstK in stride(from: 0, to: depthCount, by: tileDepth) {
            let kEnd = min(firstK + tileDepth, depthCount)
            let sourceRows = a + (depth.lowerBound + firstK) * lda + rows.lowerBound
            for firstPanel in stride(from: 0, to: fullPanels, by: tilePanels) {
                for index in firstPanel..<min(firstPanel + tilePanels, fullPanels) {
                    var source = sourceRows + index * microRows
                    var destination = packed + index * panelSize + firstK * microRows
                    for _ in firstK..<kEnd {
                        copySix(from: source, to: destination)
                        source += lda
                        destination += microRows
                    }
                }
            }
            for index in fullPanels..<panels.count {
                let firstRow = panels.firstRow(of: index)
                for kk in firstK..<kEnd {
                    let panel = packed + index * panelSize + kk * microRows
                    let source = sourceRows + (kk - firstK) * lda
                    for row in 0..<panels.rows(of: index) { panel[row] = source[firstRow + row] }
                }
            }
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

/// Packing transposes eight floats at a time in every variant: a multiple of
/// every tile width, and one AVX2 register.
typealias Octet = SIMD8<Float>

@inline(__always)
func loadOctet(_ pointer: UnsafePointer<Float>) -> Octet {
    UnsafeRawPointer(pointer).loadUnaligned(as: Octet.self)
}

@inline(__always)
func storeOctet(_ value: Octet, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Octet.self)
}
