def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    return {"message": f"hello, {name}"}
