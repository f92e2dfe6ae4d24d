#ifndef ALTO_CAMQP_SHIM_H
#define ALTO_CAMQP_SHIM_H

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <amqp_framing.h>
#include <stdint.h>

/// `amqp_login` is variadic, which Swift cannot call; this fixes its arguments for PLAIN login.
static inline amqp_rpc_reply_t alto_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                     int channel_max, int frame_max, int heartbeat,
                                                     const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

/* Casted macros do not import into Swift; these name the ones the client needs. */
static const uint32_t alto_amqp_basic_ack_method = AMQP_BASIC_ACK_METHOD;
static const uint32_t alto_amqp_basic_nack_method = AMQP_BASIC_NACK_METHOD;
static const uint32_t alto_amqp_basic_return_method = AMQP_BASIC_RETURN_METHOD;
static const uint32_t alto_amqp_channel_close_method = AMQP_CHANNEL_CLOSE_METHOD;
static const uint32_t alto_amqp_connection_close_method = AMQP_CONNECTION_CLOSE_METHOD;
static const uint32_t alto_amqp_basic_cancel_method = AMQP_BASIC_CANCEL_METHOD;
static const uint8_t alto_amqp_frame_method = AMQP_FRAME_METHOD;
static const uint32_t alto_amqp_flag_content_type = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const uint32_t alto_amqp_flag_delivery_mode = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const uint32_t alto_amqp_flag_headers = AMQP_BASIC_HEADERS_FLAG;
static const uint32_t alto_amqp_flag_message_id = AMQP_BASIC_MESSAGE_ID_FLAG;
static const uint32_t alto_amqp_flag_user_id = AMQP_BASIC_USER_ID_FLAG;
static const uint8_t alto_amqp_delivery_persistent = AMQP_DELIVERY_PERSISTENT;
static const int alto_amqp_reply_success = AMQP_REPLY_SUCCESS;

#endif
