import CRNNSupport

// The macro-kernel walks one packed A block against packed B panels; the
// micro-kernel multiplies one A panel by one B panel into a register tile of
// C. All of GEMM's arithmetic happens in `microkernelBody`.

extension GEMM {
    /// C[rows, columns] = (loadsC ? C : 0) + packedA · packedB[:, columns].
    ///
    /// - Parameters:
    ///   - rows: Rows of the packed A block, cut into panels by `_RowPanels`.
    ///   - depth: The packed depth.
    ///   - packedA: `packA`'s output for these rows and this depth.
    ///   - packedB: The first B panel (column 0 of the `columns` coordinates),
    ///     at this depth.
    ///   - panelStride: Floats from one B panel to the next.
    ///   - columns: The output columns to compute and store.
    ///   - c: C at the block's first row and at column 0 of `columns`' coordinates.
    ///   - loadsC: Start from C's values rather than from zero.
    ///   - tile: `microRows` × `microColumns` floats for tiles cut by `columns` or by C's edge.
    ///   - inlinesTiles: Inline the micro-kernels, so that a constant `depth`
    ///     (in the generated kernels) fixes their trip count.
    @inline(__always)
    static func macroKernel(
        rows: Int, depth: Int,
        packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>, panelStride: Int,
        columns: Range<Int>,
        c: UnsafeMutablePointer<Float>, ldc: Int, loadsC: Bool,
        tile: UnsafeMutablePointer<Float>, inlinesTiles: Bool = false
    ) {
        let firstPanel = columns.lowerBound / microColumns
        let endPanel = (columns.upperBound + microColumns - 1) / microColumns
        let rowPanels = _RowPanels(rows: rows)
        for panel in firstPanel..<endPanel {
            let panelStart = panel * microColumns
            let lowerColumn = max(columns.lowerBound, panelStart)
            let upperColumn = min(columns.upperBound, panelStart + microColumns)
            let width = upperColumn - lowerColumn
            let b = packedB + panel * panelStride
            for index in 0..<rowPanels.count {
                let firstRow = rowPanels.firstRow(of: index)
                let tileRows = rowPanels.rows(of: index)
                let a = packedA + index * microRows * depth
                let cTile = c + firstRow * ldc + lowerColumn
                if loadsC {
                    // The next tile's C is rarely in L1 (a step's gates were written
                    // by the input projection long before; a weight gradient spans
                    // hundreds of KiB): fetch it while this tile computes, or the
                    // tile's first FMAs wait for it.
                    // After the last row panel comes the first one of the next column panel.
                    let (nextIndex, nextColumn) =
                        index + 1 < rowPanels.count ? (index + 1, lowerColumn) : (0, upperColumn)
                    let next = c + rowPanels.firstRow(of: nextIndex) * ldc + nextColumn
                    for row in 0..<rowPanels.rows(of: nextIndex) {
                        rnn_prefetch_for_update(next + row * ldc)
                        rnn_prefetch_for_update(next + row * ldc + microColumns - 1)
                    }
                }
                if width == microColumns {
                    microkernel(
                        rows: tileRows, depth: depth, a: a, b: b, c: cTile, ldc: ldc, loadsC: loadsC,
                        inline: inlinesTiles)
                } else {
                    // The tile's column j is panel column j, so C's columns land at an offset.
                    let tileColumns = tile + (lowerColumn - panelStart)
                    if loadsC {
                        for row in 0..<tileRows {
                            (tileColumns + row * microColumns).update(from: cTile + row * ldc, count: width)
                        }
                    }
                    microkernel(
                        rows: tileRows, depth: depth, a: a, b: b, c: tile, ldc: microColumns, loadsC: loadsC,
                        inline: inlinesTiles)
                    for row in 0..<tileRows {
                        (cTile + row * ldc).update(from: tileColumns + row * microColumns, count: width)
                    }
                }
            }
        }
    }

    /// Selects the micro-kernel compiled for `rows` (1...6) rows: an inlined
    /// copy of the body, or the out-of-line one.
    @inline(__always)
    static func microkernel(
        rows: Int, depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, loadsC: Bool, inline: Bool
    ) {
        if inline {
            switch rows {
            case 6: microkernelBody(rows: 6, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
            case 5: microkernelBody(rows: 5, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
            case 4: microkernelBody(rows: 4, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
            case 3: microkernelBody(rows: 3, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
            case 2: microkernelBody(rows: 2, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
            default: microkernelBody(rows: 1, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
            }
            return
        }
        switch rows {
        case 6: microkernel6(depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
        case 5: microkernel5(depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
        case 4: microkernel4(depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
        case 3: microkernel3(depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
        case 2: microkernel2(depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
        default: microkernel1(depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
        }
    }

    // One copy of the body per row count, with `rows` a constant, so that a
    // partial row panel skips the padding rows' FMAs (small batches in the
    // recurrent multiply) instead of computing and discarding them. Out of
    // line: the call per tile is nothing next to its 12·depth FMAs.
    @inline(never) static func microkernel6(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        loadsC: Bool
    ) {
        microkernelBody(rows: 6, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
    }
    @inline(never) static func microkernel5(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        loadsC: Bool
    ) {
        microkernelBody(rows: 5, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
    }
    @inline(never) static func microkernel4(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        loadsC: Bool
    ) {
        microkernelBody(rows: 4, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
    }
    @inline(never) static func microkernel3(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        loadsC: Bool
    ) {
        microkernelBody(rows: 3, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
    }
    @inline(never) static func microkernel2(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        loadsC: Bool
    ) {
        microkernelBody(rows: 2, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
    }
    @inline(never) static func microkernel1(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
        loadsC: Bool
    ) {
        microkernelBody(rows: 1, depth: depth, a: a, b: b, c: c, ldc: ldc, loadsC: loadsC)
    }

    /// C[rows × microColumns] = (loadsC ? C : 0) + A panel · B panel, in registers.
    ///
    /// Each accumulator is one chain of FMAs in increasing k; `rows` must be
    /// a constant after inlining, so that unused rows fold away.
    ///
    /// - Parameters:
    ///   - a: A panel: `depth` groups of `microRows` floats.
    ///   - b: B panel: `depth` rows of `microColumns` floats.
    ///   - c: C's tile, row stride `ldc`; its first `rows` rows are read
    ///     (when `loadsC`) and written, `microColumns` columns each.
    @inline(__always)
    static func microkernelBody(
        rows: Int, depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, loadsC: Bool
    ) {
        var c00 = Vector(), c01 = Vector()
        var c10 = Vector(), c11 = Vector()
        var c20 = Vector(), c21 = Vector()
        var c30 = Vector(), c31 = Vector()
        var c40 = Vector(), c41 = Vector()
        var c50 = Vector(), c51 = Vector()
        if loadsC {
            loadRow(&c00, &c01, from: c)
            if rows > 1 { loadRow(&c10, &c11, from: c + ldc) }
            if rows > 2 { loadRow(&c20, &c21, from: c + 2 * ldc) }
            if rows > 3 { loadRow(&c30, &c31, from: c + 3 * ldc) }
            if rows > 4 { loadRow(&c40, &c41, from: c + 4 * ldc) }
            if rows > 5 { loadRow(&c50, &c51, from: c + 5 * ldc) }
        }
        var a = a
        var b = b
        @inline(__always) func step() {
            let b0 = loadVector(b)
            let b1 = loadVector(b + Vector.scalarCount)
            accumulateRow(&c00, &c01, a[0], b0, b1)
            if rows > 1 { accumulateRow(&c10, &c11, a[1], b0, b1) }
            if rows > 2 { accumulateRow(&c20, &c21, a[2], b0, b1) }
            if rows > 3 { accumulateRow(&c30, &c31, a[3], b0, b1) }
            if rows > 4 { accumulateRow(&c40, &c41, a[4], b0, b1) }
            if rows > 5 { accumulateRow(&c50, &c51, a[5], b0, b1) }
            a += microRows
            b += microColumns
        }
        // Four steps per iteration: a quarter of the loop overhead, and the
        // loads of one step issue beside the FMAs of the others (two steps
        // per iteration ran the training step 2-5% slower).
        for _ in 0..<depth / 4 {
            step()
            step()
            step()
            step()
        }
        for _ in 0..<depth % 4 { step() }
        storeRow(c00, c01, to: c)
        if rows > 1 { storeRow(c10, c11, to: c + ldc) }
        if rows > 2 { storeRow(c20, c21, to: c + 2 * ldc) }
        if rows > 3 { storeRow(c30, c31, to: c + 3 * ldc) }
        if rows > 4 { storeRow(c40, c41, to: c + 4 * ldc) }
        if rows > 5 { storeRow(c50, c51, to: c + 5 * ldc) }
    }

    /// One row of the tile: (low, high) += a · (b0, b1).
    @inline(__always)
    static func accumulateRow(_ low: inout Vector, _ high: inout Vector, _ a: Float, _ b0: Vector, _ b1: Vector) {
        let broadcast = Vector(repeating: a)
        low = multiplyAdd(broadcast, b0, low)
        high = multiplyAdd(broadcast, b1, high)
    }

    @inline(__always)
    static func loadRow(_ low: inout Vector, _ high: inout Vector, from row: UnsafeMutablePointer<Float>) {
        low = loadVector(row)
        high = loadVector(row + Vector.scalarCount)
    }

    @inline(__always)
    static func storeRow(_ low: Vector, _ high: Vector, to row: UnsafeMutablePointer<Float>) {
        storeVector(low, row)
        storeVector(high, row + Vector.scalarCount)
    }
}
