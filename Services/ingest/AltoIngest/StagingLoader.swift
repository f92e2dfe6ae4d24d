import AltoCompression
import AltoModels
import AltoStore
import Foundation
import Logging
import PostgresNIO

/// Streams one staged batch from `upload_chunks` through decompression, the CSV reader and the row normalizer
/// into a COPY of its staging partition (or of its first scan's load table), so no stage holds more than a piece
/// of the batch. Rows that fail are counted, and the first `keptRejects` of them kept with their reason for the
/// rejects table.
struct StagingLoader: Sendable {
    /// Reads the chunks on a connection of its own while the transaction's connection runs the COPY.
    let postgres: PostgresClient
    var keptRejects = 10_000

    struct Reject: Sendable {
        var line: Int
        var reason: String
        var filePath: String?
        var rowText: String
    }

    struct Outcome: Sendable {
        var accepted = 0
        var rejected = 0
        var rejects: [Reject] = []
    }

    /// The batch cannot be read at all (an open quote at its end, a stream that does not decompress); nothing of it
    /// is kept.
    struct UnusableBatch: Error, CustomStringConvertible {
        var description: String
    }

    /// Where the rows go: the day's staging partition, to be merged into the inventory, or the load table of a
    /// host's first full scan, which becomes the host's inventory partition once the scan is complete.
    enum Destination: Sendable {
        case staging(partition: String, scanDate: String)
        case inventoryLoad(table: String, scanID: UUID)

        var schema: String {
            switch self {
            case .staging: "scan_staging"
            case .inventoryLoad: "inventory"
            }
        }

        var table: String {
            switch self {
            case .staging(let partition, _): partition
            case .inventoryLoad(let table, _): table
            }
        }

        /// The columns every row of the batch shares, then whether the row's line number follows them.
        func leadingColumns(batchID: UUID, customerID: UUID, hostID: UUID) -> (names: [String], values: [String], line: Bool) {
            let customer = customerID.uuidString.lowercased(), host = hostID.uuidString.lowercased()
            switch self {
            case .staging(_, let scanDate):
                return (["customer_id", "scan_date", "batch_id", "host_id"], [customer, scanDate, batchID.uuidString.lowercased(), host], true)
            case .inventoryLoad(_, let scanID):
                return (["customer_id", "host_id", "last_scan_id"], [customer, host, scanID.uuidString.lowercased()], false)
            }
        }
    }

    static let fileColumns = ["file_path", "file_size", "last_modified", "last_accessed", "file_extension", "permissions", "owner", "hash",
                              "path_key"]

    private static let sliceBytes = 64 << 10

    func load(batchID: UUID, compression: IngestJob.Compression, customerID: UUID, hostID: UUID, into destination: Destination,
              connection: PostgresConnection, logger: Logger) async throws -> Outcome {
        var outcome = Outcome()
        let leading = destination.leadingColumns(batchID: batchID, customerID: customerID, hostID: hostID)
        let columns = leading.names + (leading.line ? ["line"] : []) + Self.fileColumns
        try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(destination.schema), public"), logger: logger)
        try await connection.copyFrom(table: destination.table, columns: columns, logger: logger) { writer in
            var rows = CopyTextWriter()
            let constantColumns = Array(leading.values.joined(separator: "\t").utf8)
            try await readRows(of: batchID, compression: compression, customerID: customerID, columns: ScanCSV.columns, logger: logger) { row in
                switch ScanRowNormalizer.normalize(row) {
                case .success(let file):
                    rows.fields(verbatim: constantColumns, count: leading.values.count)
                    if leading.line { rows.field(Int64(row.line)) }
                    rows.field(file.path)
                    rows.field(file.size)
                    rows.timestamp(seconds: file.modified.seconds, microseconds: file.modified.microseconds)
                    if let accessed = file.accessed {
                        rows.timestamp(seconds: accessed.seconds, microseconds: accessed.microseconds)
                    } else {
                        rows.null()
                    }
                    rows.field(file.fileExtension)
                    rows.field(file.permissions)
                    rows.field(file.owner)
                    if let hash = file.hash { rows.field(hash) } else { rows.null() }
                    rows.field(PathKey.stored(PathKey.of(file.path)))
                    rows.endRow()
                    outcome.accepted += 1
                case .failure(let error):
                    reject(row, error.message, in: &outcome)
                }
            } drain: {
                if rows.bytes.count >= 1 << 20 { try await writer.write(rows.take()) }
            }
            if !rows.bytes.isEmpty { try await writer.write(rows.take()) }
        }
        try await connection.query("SET LOCAL search_path TO public", logger: logger)
        return outcome
    }

    /// The most keys a batch of deletions may hold (40 MB of them), since they are held together to be applied in
    /// one statement; an agent cuts batches of a few hundred thousand.
    static let maximumDeletedKeys = 5_000_000

    /// The keys of a listing of deletions, each a file the agent no longer found.
    func deletedKeys(of batchID: UUID, compression: IngestJob.Compression, customerID: UUID,
                     logger: Logger) async throws -> (keys: [Int64], outcome: Outcome) {
        var outcome = Outcome()
        var keys: [Int64] = []
        try await readRows(of: batchID, compression: compression, customerID: customerID, columns: ScanCSV.deletionColumns,
                           logger: logger) { row in
            if !row.isOverlong, row.fieldCount == 1, let key = Int64(String(decoding: row.field(0), as: UTF8.self)) {
                guard keys.count < Self.maximumDeletedKeys else {
                    throw UnusableBatch(description: "a batch of deletions holds more than \(Self.maximumDeletedKeys) keys; cut smaller batches")
                }
                keys.append(key)
                outcome.accepted += 1
            } else {
                reject(row, "a row of deletions is one signed 64-bit path key", in: &outcome)
            }
        } drain: {}
        return (keys, outcome)
    }

    private func reject(_ row: ScanCSVReader.Row, _ reason: String, in outcome: inout Outcome) {
        outcome.rejected += 1
        guard outcome.rejects.count < keptRejects else { return }
        let path = row.fieldCount > 1 ? String(validating: row.field(0), as: UTF8.self) : nil
        outcome.rejects.append(Reject(line: row.line, reason: reason, filePath: path.flatMap { $0.contains("\0") ? nil : $0 },
                                      rowText: String(String(decoding: row.text.utf8.prefix(2000), as: UTF8.self).filter { $0 != "\0" })))
    }

    /// Streams the batch's chunks from a second connection, bound to the same tenant (the first one may be copying),
    /// through decompression and the CSV reader, a slice of a chunk at a time, calling `drain` after each slice so
    /// what waits for COPY stays near a megabyte however well the batch compressed.
    private func readRows(of batchID: UUID, compression: IngestJob.Compression, customerID: UUID, columns: [String], logger: Logger,
                          _ body: (ScanCSVReader.Row) throws -> Void, drain: () async throws -> Void) async throws {
        let decompressor = try Decompressor(compression)
        var reader = ScanCSVReader(columns: columns)
        try await postgres.withTenant(customerID, logger: logger) { chunkReader in
            let chunks = try await chunkReader.query(
                "SELECT data FROM scan_staging.upload_chunks WHERE batch_id = \(batchID) ORDER BY seq", logger: logger)
            do {
                for try await data in chunks.decode(ByteBuffer.self) {
                    var rest = data
                    while let slice = rest.readSlice(length: min(rest.readableBytes, Self.sliceBytes)), slice.readableBytes > 0 {
                        try slice.withUnsafeReadableBytes { compressed in
                            try decompressor.decompress(compressed) { csv in try reader.read(csv, body) }
                        }
                        try await drain()
                    }
                }
                try decompressor.finish()
                try reader.finish(body)
            } catch let error as ScanCSV.FormatError {
                throw UnusableBatch(description: error.message)
            } catch let error as CompressionError {
                throw UnusableBatch(description: error.description)
            }
        }
    }
}
