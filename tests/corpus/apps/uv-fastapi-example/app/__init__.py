def hello() -> str:
    return "Hello from my-app!"
