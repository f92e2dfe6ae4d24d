import CAMQP
import Glibc

/// One librabbitmq connection with one channel. Not thread-safe: it lives and dies on its owner's thread.
final class AMQPSession {
    private let state: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    private(set) var isOpen = true
    /// Messages published on this channel; with confirms on, the broker numbers its acks by this count.
    var publishedCount: UInt64 = 0

    /// Opens the socket, logs in and opens the channel; throws with librabbitmq's reason when any step fails.
    init(configuration given: AMQPConfiguration, confirms: Bool) throws {
        let configuration: AMQPConfiguration
        if let account = given.account {
            guard let issued = account.current else {
                throw AMQPError(.connectionFailed, "no broker account has been issued yet")
            }
            configuration = issued
        } else {
            configuration = given
        }
        guard let state = amqp_new_connection() else {
            throw AMQPError(.connectionFailed, "cannot allocate a connection")
        }
        self.state = state
        do {
            let socket = try Self.socket(for: configuration, on: state)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            try Self.check(amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &timeout),
                           "connect to \(configuration.host):\(configuration.port)")
            let login = alto_amqp_login_plain(state, configuration.virtualHost, 0, 131_072, Int32(configuration.heartbeatSeconds),
                                              configuration.user, configuration.password)
            do {
                try Self.check(login, "login as \(configuration.user)")
            } catch {
                given.account?.refused()
                throw error
            }
            amqp_channel_open(state, channel)
            try Self.check(amqp_get_rpc_reply(state), "open channel")
            if confirms {
                amqp_confirm_select(state, channel)
                try Self.check(amqp_get_rpc_reply(state), "select publisher confirms")
            }
        } catch {
            amqp_destroy_connection(state)
            isOpen = false
            throw error
        }
    }

    deinit {
        close()
    }

    /// A plain socket for `amqp://`; for `amqps://` one that verifies the broker's certificate and name against the
    /// configured certificate authorities (the system's unless `cacertfile` names others).
    private static func socket(for configuration: AMQPConfiguration, on state: amqp_connection_state_t) throws -> OpaquePointer {
        guard configuration.usesTLS else {
            guard let socket = amqp_tcp_socket_new(state) else { throw AMQPError(.connectionFailed, "cannot allocate a socket") }
            return socket
        }
        guard let socket = amqp_ssl_socket_new(state) else { throw AMQPError(.connectionFailed, "cannot allocate a TLS socket") }
        amqp_ssl_socket_set_verify_peer(socket, 1)
        amqp_ssl_socket_set_verify_hostname(socket, 1)
        if let authorities = configuration.certificateAuthorities {
            try check(amqp_ssl_socket_set_cacert(socket, authorities), "read the certificate authorities in \(authorities)")
        }
        return socket
    }

    /// Closes politely when the connection still works and frees it in any case.
    func close() {
        guard isOpen else { return }
        isOpen = false
        amqp_channel_close(state, channel, alto_amqp_reply_success)
        amqp_connection_close(state, alto_amqp_reply_success)
        amqp_destroy_connection(state)
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// True when librabbitmq holds received bytes or frames that a read would return without the socket.
    var hasBufferedInput: Bool {
        amqp_data_in_buffer(state) != 0 || amqp_frames_enqueued(state) != 0
    }

    // MARK: Topology

    func declareExchange(_ name: String, type: String) throws {
        withBytes(name) { exchange in
            withBytes(type) { kind in
                _ = amqp_exchange_declare(state, channel, exchange, kind, 0, 1, 0, 0, amqp_empty_table)
            }
        }
        try rpcReply("declare exchange \(name)")
    }

    /// Declares a durable queue, or finds the one there with the same arguments, and returns what it holds.
    @discardableResult
    func declareQueue(_ name: String, arguments: [String: AMQPFieldValue] = [:]) throws -> AMQPQueueDepth {
        let answer = withBytes(name) { queue in
            AMQPTable.with(arguments) { table in
                amqp_queue_declare(state, channel, queue, 0, 1, 0, 0, table)
            }
        }
        try rpcReply("declare queue \(name)")
        return AMQPQueueDepth(queue: name, messages: Int(answer?.pointee.message_count ?? 0),
                              consumers: Int(answer?.pointee.consumer_count ?? 0))
    }

    func bindQueue(_ queue: String, exchange: String, routingKey: String) throws {
        withBytes(queue) { queueBytes in
            withBytes(exchange) { exchangeBytes in
                withBytes(routingKey) { keyBytes in
                    _ = amqp_queue_bind(state, channel, queueBytes, exchangeBytes, keyBytes, amqp_empty_table)
                }
            }
        }
        try rpcReply("bind \(queue) to \(exchange)")
    }

    func deleteQueue(_ name: String) throws {
        withBytes(name) { queue in
            _ = amqp_queue_delete(state, channel, queue, 0, 0)
        }
        try rpcReply("delete queue \(name)")
    }

    // MARK: Publishing

    /// Sends one persistent message; with `mandatory` the broker returns it when no queue takes it.
    func publish(_ message: AMQPMessage, exchange: String, routingKey: String, mandatory: Bool) throws {
        var properties = amqp_basic_properties_t()
        properties._flags = alto_amqp_flag_delivery_mode | alto_amqp_flag_content_type
        properties.delivery_mode = alto_amqp_delivery_persistent
        let status: Int32 = "application/json".withCString { contentType in
            properties.content_type = amqp_cstring_bytes(contentType)
            return withOptionalCString(message.messageID) { messageID in
                if let messageID {
                    properties._flags |= alto_amqp_flag_message_id
                    properties.message_id = amqp_cstring_bytes(messageID)
                }
                return withOptionalCString(message.userID) { userID in
                    if let userID {
                        properties._flags |= alto_amqp_flag_user_id
                        properties.user_id = amqp_cstring_bytes(userID)
                    }
                    return AMQPTable.with(message.headers.mapValues(AMQPFieldValue.string)) { headers in
                        if !message.headers.isEmpty {
                            properties._flags |= alto_amqp_flag_headers
                            properties.headers = headers
                        }
                        return exchange.withCString { exchangePointer in
                            routingKey.withCString { keyPointer in
                                message.body.withUnsafeBytes { body in
                                    let bodyBytes = amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress))
                                    return amqp_basic_publish(state, channel, amqp_cstring_bytes(exchangePointer),
                                                              amqp_cstring_bytes(keyPointer), mandatory ? 1 : 0, 0,
                                                              &properties, bodyBytes)
                                }
                            }
                        }
                    }
                }
            }
        }
        try Self.check(status, "publish to \(exchange.isEmpty ? routingKey : exchange)")
    }

    /// What the broker said about published messages.
    enum ConfirmEvent {
        case ack(tag: UInt64, multiple: Bool)
        case nack(tag: UInt64, multiple: Bool)
        /// A mandatory message no queue took; its ack follows.
        case returned
        case timeout
    }

    /// Reads the next confirm-related frame, waiting at most `timeout`.
    func nextConfirmEvent(timeout: Duration) throws -> ConfirmEvent {
        var frame = amqp_frame_t()
        var wait = timeval(duration: timeout)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return .timeout }
        try Self.check(status, "wait for a confirm")
        guard frame.frame_type == alto_amqp_frame_method else {
            return try nextConfirmEvent(timeout: timeout)
        }
        let method = frame.payload.method
        switch method.id {
        case alto_amqp_basic_ack_method:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case alto_amqp_basic_nack_method:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case alto_amqp_basic_return_method:
            var returned = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &returned, 0)
            amqp_destroy_message(&returned)
            try Self.check(reply, "read a returned message")
            return .returned
        default:
            throw closeError(for: method)
        }
    }

    // MARK: Consuming

    func consume(queue: String, prefetch: UInt16) throws {
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try rpcReply("set prefetch")
        withBytes(queue) { queueBytes in
            _ = amqp_basic_consume(state, channel, queueBytes, amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
        }
        try rpcReply("consume \(queue)")
    }

    /// Reads one delivery, or nil when none arrived within `timeout`.
    func nextDelivery(queue: String, generation: Int, timeout: Duration) throws -> AMQPDelivery? {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var wait = timeval(duration: timeout)
        let reply = amqp_consume_message(state, &envelope, &wait, 0)
        defer { if reply.reply_type == AMQP_RESPONSE_NORMAL { amqp_destroy_envelope(&envelope) } }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
            if reply.library_error == AMQP_STATUS_TIMEOUT.rawValue { return nil }
            if reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
                return try handleUnexpectedFrame()
            }
        }
        try Self.check(reply, "consume from \(queue)")
        let properties = envelope.message.properties
        var headers: [String: String] = [:]
        if properties._flags & alto_amqp_flag_headers != 0 {
            headers = AMQPTable.strings(from: properties.headers)
        }
        let messageID = properties._flags & alto_amqp_flag_message_id != 0 ? String(bytes: properties.message_id) : nil
        let userID = properties._flags & alto_amqp_flag_user_id != 0 ? String(bytes: properties.user_id) : nil
        let body = envelope.message.body
        let bytes = body.len == 0 ? [] : Array(UnsafeRawBufferPointer(start: body.bytes, count: body.len))
        return AMQPDelivery(
            message: AMQPMessage(body: bytes, headers: headers, messageID: messageID, userID: userID),
            queue: queue,
            redelivered: envelope.redelivered != 0,
            deliveryTag: envelope.delivery_tag,
            generation: generation
        )
    }

    func ack(_ tag: UInt64) throws {
        try Self.check(amqp_basic_ack(state, channel, tag, 0), "ack")
    }

    func nack(_ tag: UInt64, requeue: Bool) throws {
        try Self.check(amqp_basic_nack(state, channel, tag, 0, requeue ? 1 : 0), "nack")
    }

    /// A frame other than a delivery arrived: a close from the broker ends this session, anything else is skipped.
    private func handleUnexpectedFrame() throws -> AMQPDelivery? {
        var frame = amqp_frame_t()
        var wait = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        try Self.check(status, "read a frame")
        if frame.frame_type == alto_amqp_frame_method {
            let method = frame.payload.method
            switch method.id {
            case alto_amqp_channel_close_method, alto_amqp_connection_close_method, alto_amqp_basic_cancel_method:
                throw closeError(for: method)
            default:
                break
            }
        }
        return nil
    }

    private func closeError(for method: amqp_method_t) -> AMQPError {
        switch method.id {
        case alto_amqp_channel_close_method:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            return AMQPError(.protocolFailure, "broker closed the channel: \(close.reply_code) \(String(bytes: close.reply_text))")
        case alto_amqp_connection_close_method:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return AMQPError(.connectionFailed, "broker closed the connection: \(close.reply_code) \(String(bytes: close.reply_text))")
        case alto_amqp_basic_cancel_method:
            return AMQPError(.protocolFailure, "broker cancelled the consumer")
        default:
            return AMQPError(.protocolFailure, "unexpected method 0x\(String(method.id, radix: 16))")
        }
    }

    // MARK: Errors

    private func rpcReply(_ operation: String) throws {
        try Self.check(amqp_get_rpc_reply(state), operation)
    }

    private static func check(_ status: Int32, _ operation: String) throws {
        guard status >= 0 else {
            throw AMQPError(.connectionFailed, "\(operation): \(String(cString: amqp_error_string2(status)))")
        }
    }

    private static func check(_ reply: amqp_rpc_reply_t, _ operation: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError(.connectionFailed, "\(operation): \(String(cString: amqp_error_string2(reply.library_error)))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let method = reply.reply
            if method.id == alto_amqp_channel_close_method {
                let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                throw AMQPError(.protocolFailure, "\(operation): \(close.reply_code) \(String(bytes: close.reply_text))")
            }
            if method.id == alto_amqp_connection_close_method {
                let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                throw AMQPError(.connectionFailed, "\(operation): \(close.reply_code) \(String(bytes: close.reply_text))")
            }
            throw AMQPError(.protocolFailure, "\(operation): server exception")
        default:
            throw AMQPError(.connectionFailed, "\(operation): no reply")
        }
    }
}

private func withBytes<R>(_ string: String, _ body: (amqp_bytes_t) throws -> R) rethrows -> R {
    try string.withCString { try body(amqp_cstring_bytes($0)) }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

extension String {
    init(bytes: amqp_bytes_t) {
        guard bytes.len > 0, let base = bytes.bytes else {
            self = ""
            return
        }
        self = String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }
}

extension timeval {
    init(duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
