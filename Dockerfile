# Build stage: a virtual environment with Symbioza's dependencies.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY matching matching
RUN pip install .

# Run stage: the environment and the source tree (migrations and seed data included), as a non-root user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 symbioza
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/symbioza
COPY --chown=symbioza:symbioza alembic.ini ./
COPY --chown=symbioza:symbioza app app
COPY --chown=symbioza:symbioza matching matching
COPY --chown=symbioza:symbioza migrations migrations
COPY --chown=symbioza:symbioza seed_data seed_data
# The source tree comes first on the path, so migrations and seed data are found beside the code.
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv/symbioza PYTHONUNBUFFERED=1 \
    SYMBIOZA_DATABASE_URL=sqlite:////srv/symbioza/data/symbioza.db WORKERS=2
RUN mkdir -p data && chown symbioza:symbioza data
USER symbioza
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["sh", "-c", "symbioza migrate && exec symbioza serve --host 0.0.0.0 --port 8000 --workers ${WORKERS}"]
