import CAMQP
import Glibc

/// A value in an AMQP field table, as queue arguments and message headers use them.
public enum AMQPFieldValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
}

/// Builds librabbitmq field tables from Swift dictionaries for the length of one call, and reads them back.
enum AMQPTable {
    static func with<R>(_ fields: [String: AMQPFieldValue], _ body: (amqp_table_t) throws -> R) rethrows -> R {
        if fields.isEmpty { return try body(amqp_empty_table) }
        var allocations: [UnsafeMutablePointer<CChar>] = []
        defer { allocations.forEach { free($0) } }
        func bytes(_ string: String) -> amqp_bytes_t {
            let copy = strdup(string)!
            allocations.append(copy)
            return amqp_bytes_t(len: strlen(copy), bytes: UnsafeMutableRawPointer(copy))
        }
        var entries = fields.sorted { $0.key < $1.key }.map { key, value -> amqp_table_entry_t in
            var field = amqp_field_value_t()
            switch value {
            case .string(let text):
                field.kind = UInt8(ascii: "S")
                field.value.bytes = bytes(text)
            case .int(let number):
                field.kind = UInt8(ascii: "l")
                field.value.i64 = number
            }
            return amqp_table_entry_t(key: bytes(key), value: field)
        }
        return try entries.withUnsafeMutableBufferPointer { buffer in
            try body(amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress))
        }
    }

    /// The table's text values; others are skipped because Alto's headers are all text.
    static func strings(from table: amqp_table_t) -> [String: String] {
        guard table.num_entries > 0, let entries = table.entries else { return [:] }
        var result: [String: String] = [:]
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            if entry.value.kind == UInt8(ascii: "S") {
                result[String(bytes: entry.key)] = String(bytes: entry.value.value.bytes)
            }
        }
        return result
    }
}
