import Foundation
import Glibc

/// Sends syslog messages to a collector over UDP (one datagram each, RFC 5426) or TCP (octet-counted, RFC 6587).
/// A small blocking client: the export command is its only user.
final class SyslogSender {
    private let socket: Int32
    private let isTCP: Bool

    init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["udp", "tcp"].contains(scheme),
              let host = components.host, let port = components.port else {
            throw SyslogError("the syslog collector must be udp://host:port or tcp://host:port, not \(url)")
        }
        isTCP = scheme == "tcp"
        var hints = addrinfo()
        hints.ai_socktype = Int32(isTCP ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let address = found else {
            throw SyslogError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(found) }
        socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard socket >= 0 else { throw SyslogError("socket: \(String(cString: strerror(errno)))") }
        guard connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(socket)
            throw SyslogError("cannot reach \(url): \(reason)")
        }
    }

    func send(_ message: String) throws {
        let payload = Array(message.utf8)
        let frame = isTCP ? Array("\(payload.count) ".utf8) + payload : payload
        var offset = 0
        while offset < frame.count {
            let sent = frame[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw SyslogError("sending to the syslog collector failed: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    func close() {
        Glibc.close(socket)
    }
}

struct SyslogError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
