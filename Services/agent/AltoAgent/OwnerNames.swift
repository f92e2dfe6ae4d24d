import Glibc

/// User names by uid, looked up once per uid and scan worker; an unknown uid is written as its number.
struct OwnerNames {
    private var names: [UInt32: [UInt8]] = [:]

    mutating func name(of uid: UInt32) -> [UInt8] {
        if let name = names[uid] { return name }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let name: [UInt8]
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let pointer = entry.pw_name {
            name = Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
        } else {
            name = Array(String(uid).utf8)
        }
        names[uid] = name
        return name
    }
}
