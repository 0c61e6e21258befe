# The dashboard in a container: docker build -t fer-audit . && docker run -p 8501:8501 fer-audit
FROM python:3.11-slim

WORKDIR /app
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    FER_AUDIT_WORKSPACE=/workspace

COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
 # facenet-pytorch pins torch<2.3; --no-deps keeps the torch above (see Makefile)
 && pip install --no-cache-dir --no-deps facenet-pytorch==2.6.0

COPY . .
RUN pip install --no-cache-dir --no-deps .

VOLUME /workspace
EXPOSE 8501
# Inside a container the server must listen on all interfaces to be reachable.
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501"]
