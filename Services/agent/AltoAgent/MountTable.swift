import Foundation

/// The mounts this process sees (`/proc/self/mountinfo`), which tell whether a managed root has a mount of its own.
enum MountTable {
    static func isMountPoint(_ path: String) -> Bool {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && unescape(fields[4]) == resolved
        }
    }

    /// mountinfo writes space, tab, newline and backslash as three octal digits after a backslash.
    private static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var characters = Array(field.utf8)[...]
        while let first = characters.first {
            if first == UInt8(ascii: "\\"), characters.count >= 4,
               let value = UInt8(String(decoding: characters.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                characters = characters.dropFirst(4)
            } else {
                bytes.append(first)
                characters = characters.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
