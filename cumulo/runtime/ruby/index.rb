# Cumulo's Ruby runtime: a Lambda Runtime API client for ruby3.x functions, standard library only.
#
# Loads the handler named by _HANDLER ("file.method" calls a top-level method, "file.Module::Class.method"
# a class method) with keyword arguments event: and context:, as AWS's Ruby runtime does; events and
# results are JSON; errors reach the Runtime API as {errorMessage, errorType, stackTrace} with AWS's
# types: "Init<LoadError>" for failures while loading, "Function<RuntimeError>" for the handler's.

require 'json'
require 'net/http'

$stdout.sync = true
$stderr.sync = true

module CumuloLambda
  API = ENV.fetch('AWS_LAMBDA_RUNTIME_API')
  PREFIX = '/2018-06-01/runtime'

  # The context object AWS's Ruby runtime passes (the same readers and methods).
  class Context
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name, :function_name,
                :memory_limit_in_mb, :function_version, :identity, :client_context, :deadline_ms

    def initialize(headers)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
      @identity = parse(headers['lambda-runtime-cognito-identity'])
      @client_context = parse(headers['lambda-runtime-client-context'])
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    end

    def get_remaining_time_in_millis
      [@deadline_ms - (Time.now.to_f * 1000).to_i, 0].max
    end

    private

    def parse(text)
      text && !text.empty? ? JSON.parse(text) : nil
    end
  end

  module_function

  def http
    @http ||= begin
      host, port = API.split(':')
      connection = Net::HTTP.new(host, port.to_i)
      connection.read_timeout = nil
      connection.keep_alive_timeout = 3600
      connection.start
    end
  end

  def request(req)
    http.request(req)
  rescue IOError, SystemCallError
    @http = nil
    http.request(req)
  end

  def post(path, body, error_type = nil)
    req = Net::HTTP::Post.new("#{PREFIX}/#{path}")
    req['Content-Type'] = 'application/json'
    req['Lambda-Runtime-Function-Error-Type'] = error_type if error_type
    req.body = body
    request(req)
  end

  def error_body(error, phase)
    type = "#{phase}<#{error.class}>"
    [JSON.generate({ errorMessage: error.message, errorType: type, stackTrace: error.backtrace || [] }), type]
  end

  def load_handler(spec)
    file, target = spec.to_s.split('.', 2)
    raise LoadError, "Bad handler #{spec}" if file.nil? || file.empty? || target.nil? || target.empty?

    require File.join(ENV.fetch('LAMBDA_TASK_ROOT', '/var/task'), file)
    if target.include?('.')
      owner, _, name = target.rpartition('.')
      receiver = Object.const_get(owner)
    else
      receiver, name = TOPLEVEL_BINDING.receiver, target
    end
    raise NoMethodError, "undefined method `#{name}' for #{receiver.inspect}" unless receiver.respond_to?(name, true)

    receiver.method(name)
  end

  def run
    handler = begin
      load_handler(ENV['_HANDLER'])
    rescue Exception => e # rubocop:disable Lint/RescueException -- SyntaxError and LoadError too
      body, type = error_body(e, 'Init')
      warn body
      post('init/error', body, type)
      exit!(1)
    end
    loop do
      response = request(Net::HTTP::Get.new("#{PREFIX}/invocation/next"))
      headers = response.to_hash.transform_values(&:first)
      id = headers['lambda-runtime-aws-request-id']
      trace = headers['lambda-runtime-trace-id']
      trace ? ENV['_X_AMZN_TRACE_ID'] = trace : ENV.delete('_X_AMZN_TRACE_ID')
      begin
        event = response.body.to_s.empty? ? nil : JSON.parse(response.body)
        result = handler.call(event: event, context: Context.new(headers))
        post("invocation/#{id}/response", JSON.generate(result))
      rescue Exception => e # rubocop:disable Lint/RescueException
        raise if e.is_a?(SystemExit)

        body, type = error_body(e, 'Function')
        warn body
        post("invocation/#{id}/error", body, type)
      end
    end
  end
end

CumuloLambda.run
