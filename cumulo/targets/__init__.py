"""Targets: delivering a payload to an ARN, for every service that sends things somewhere.

EventBridge rules, EventBridge Scheduler schedules, Lambda's asynchronous-invocation
destinations and dead-letter queues, and SNS's Lambda and SQS subscriptions all deliver here;
S3 event notifications, Pipes and stream event sources plug in the same way: build a
``send.Delivery`` and call ``send.send`` (or ``send.send_now`` inside a store transaction).

=================  =========================================================  ===============
target ARN         delivery                                                   synchronous
=================  =========================================================  ===============
``sqs``            ``platform.queues.deliver``: FIFO ``MessageGroupId`` and   yes
                   deduplication id, message attributes, the sender id
``sns``            ``platform.topics.publish_message``: FIFO group and        yes
                   deduplication ids, message attributes
``events`` (bus)   ``platform.events.put_event_internal`` with the            yes
                   ``Delivery.bus_event`` source, detail type and resources
                   (the payload is the detail); EventBridge's own bus-to-bus
                   forwarding, with its hop rules, stays in EventBridge
``lambda``         ``platform.functions.invoke_function``, an ``Event``       no
                   (asynchronous) invocation, with the trace header
``states``         Step Functions' ``StartExecution`` through                 no
                   ``services.api_calls`` (model validation included)
``logs``           ``platform.logs.append`` to the group of the ARN (it must  no
                   exist), stream ``Delivery.log_stream``
``kinesis``        Kinesis ``PutRecord`` through ``services.api_calls``, the  no
                   ``Delivery.partition_key`` (a new UUID when None)
anything else      a retryable ``SDK_CLIENT_ERROR`` ("... targets are not     no
                   available in this build")
=================  =========================================================  ===============

Modules:

* ``send``: the switch above, ``Delivery`` and ``BusEvent``, and ``call_target_api`` (an API
  operation as a target: Step Functions, Scheduler's universal targets);
* ``errors``: ``TargetError`` (AWS's ``ERROR_CODE`` family: ``NO_RESOURCE``,
  ``NO_PERMISSIONS``, ``INVALID_PARAMETER``, ``THROTTLING``, ``ERROR_FROM_TARGET``,
  ``SDK_CLIENT_ERROR``...) and which AWS error codes are retried;
* ``dead_letters``: the dead-letter message attributes of EventBridge/Scheduler and of Lambda,
  and sending to a dead-letter queue;
* ``retrying``: the durable, retrying work-queue skeleton (on ``store.work_queue``) that
  Lambda's asynchronous invocations and the delivery queue share;
* ``delivery_queue``: durable at-least-once delivery jobs with AWS's ``RetryPolicy``
  (exponential backoff with jitter, maximum attempts and age) and ``DeadLetterConfig``;
* ``metrics``: the EventBridge and Scheduler delivery metrics sent to CloudWatch;
* ``arns``, ``log_groups``: ARN parsing and the log event a payload becomes.
"""
