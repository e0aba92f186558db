# The app image for compose.yaml: the same requirements.txt as `make install`, the app on port 8501.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
COPY requirements.txt pyproject.toml ./
# PyTorch's CPU index: PyPI's torch for Linux is the multi-GB CUDA build, which the app does not need
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home workbench && mkdir -p /data && chown workbench /data
USER workbench
EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"
CMD ["python", "-m", "streamlit", "run", "app/server.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true"]
