import Foundation

/// An HTTP request whose body comes a byte at a time over a socket of its own, as a broken or hostile client sends
/// it: what it costs the server is what the tests measure.
public enum SlowUpload {
    /// Sends `head` (the request line and headers) at once, then `body` one byte every `interval`, and returns the
    /// status the server answered with, whenever it did, or nil if it never answered before `timeout`.
    public static func send(port: Int, head: String, body: [UInt8], interval: Duration, timeout: Duration) async throws -> Int? {
        let socket = try connect(port: port)
        defer { close(socket) }
        try write(socket, Array(head.utf8))
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while ContinuousClock.now < deadline {
            if let status = answer(socket) { return status }
            if sent < body.count {
                guard (try? write(socket, [body[sent]])) != nil else { return answer(socket, waiting: 1000) }
                sent += 1
            }
            try await Task.sleep(for: interval)
        }
        return nil
    }

    private static func connect(port: Int) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw TestFailure("connect to port \(port): \(errno)")
        }
        return socket
    }

    private static func write(_ socket: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw TestFailure("send: \(errno)") }
            offset += written
        }
    }

    /// The status of the response waiting on the socket, if one is; a closed connection with no response is 0.
    private static func answer(_ socket: Int32, waiting milliseconds: Int32 = 0) -> Int? {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(socket, &buffer, buffer.count, 0)
        guard count > 0 else { return 0 }
        let line = String(decoding: buffer[..<count], as: UTF8.self).split(separator: " ")
        return line.count > 1 ? Int(line[1]) ?? 0 : 0
    }
}
