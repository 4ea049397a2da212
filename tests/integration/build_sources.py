"""Source code of the functions `cumulo build` is tested with: each answers Lambda's Runtime API itself."""

RUST_BOOTSTRAP = r"""
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn call(api: &str, method: &str, path: &str, body: &str) -> (Option<String>, String) {
    let mut stream = TcpStream::connect(api).expect("runtime api");
    write!(stream, "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
           method, path, api, body.len(), body).unwrap();
    let mut reader = BufReader::new(stream);
    let (mut request_id, mut length) = (None, 0usize);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() { break; }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "lambda-runtime-aws-request-id" => request_id = Some(value.trim().to_string()),
                "content-length" => length = value.trim().parse().unwrap(),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    (request_id, String::from_utf8(body).unwrap())
}

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
    loop {
        let (id, event) = call(&api, "GET", "/2018-06-01/runtime/invocation/next", "");
        let id = id.expect("request id");
        let answer = format!("{{\"built_by\":\"cargo\",\"event\":{}}}", event);
        call(&api, "POST", &format!("/2018-06-01/runtime/invocation/{}/response", id), &answer);
    }
}
"""

GO_BOOTSTRAP = """
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// call speaks just enough HTTP/1.1 (no net/http: the test's cold compile stays short).
func call(api, method, path, body string) (string, string) {
	conn, err := net.Dial("tcp", api)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\\r\\nHost: %s\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s",
		method, path, api, len(body), body)
	reader := bufio.NewReader(conn)
	id, length := "", 0
	for {
		line, _ := reader.ReadString('\\n')
		line = strings.TrimRight(line, "\\r\\n")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "lambda-runtime-aws-request-id":
			id = strings.TrimSpace(value)
		case "content-length":
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	data := make([]byte, length)
	io.ReadFull(reader, data)
	return id, string(data)
}

func main() {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	for {
		id, event := call(api, "GET", "/2018-06-01/runtime/invocation/next", "")
		answer := fmt.Sprintf(`{"built_by":"go","event":%s}`, event)
		call(api, "POST", "/2018-06-01/runtime/invocation/"+id+"/response", answer)
	}
}
"""

JAVA_LIBRARY = """
package org.greeting;

public final class Greeting {
    public static String hello(String name) { return "hello " + name + " from a lib jar"; }
}
"""

JAVA_HANDLER = """
package com.example;

import java.io.InputStream;
import java.util.Properties;
import org.greeting.Greeting;

public class Handler {
    public String handleRequest(String name) throws Exception {
        Properties settings = new Properties();
        try (InputStream in = Handler.class.getResourceAsStream("/settings.properties")) {
            settings.load(in);
        }
        return Greeting.hello(name) + " (" + settings.getProperty("mood") + ")";
    }

    public static void main(String[] args) throws Exception {
        System.out.println(new Handler().handleRequest(args[0]));
    }
}
"""
