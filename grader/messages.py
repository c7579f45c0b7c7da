"""Every student-facing sentence, in every language the grader speaks, in one catalogue.

`msg(key, **values)` formats the entry in the current language (set for a run with `language()`).
A test proves every entry exists in every language with the same placeholders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LANGUAGES = ("en", "es")
_CURRENT: ContextVar[str] = ContextVar("grader_language", default="en")


@contextmanager
def language(lang: str) -> Iterator[None]:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    token = _CURRENT.set(lang)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_language() -> str:
    return _CURRENT.get()


def msg(key: str, /, **values: object) -> str:
    return CATALOGUE[key][_CURRENT.get()].format(**values)


def named(check_id: str) -> str:
    """How a student reads a check's name: its title in the run's language (`compose.volume` is
    "Database data on a named volume"); an id without a catalogue title (a scenario's) as it is.
    The id stays in the JSON (`cause`), for tools."""
    key = f"title.{check_id}"
    return msg(key) if key in CATALOGUE else check_id


def title(text: str) -> str:
    """A check's title: catalogue keys are translated; an instructor's scenario name is kept."""
    return msg(text) if text in CATALOGUE else text


CATALOGUE: dict[str, dict[str, str]] = {}


def _add(key: str, en: str, es: str) -> None:
    CATALOGUE[key] = {"en": en, "es": es}


# -- titles -------------------------------------------------------------------------------------
_add("title.dockerfile.present", "Dockerfile present", "Dockerfile presente")
_add("title.dockerfile.practices", "Dockerfile practices", "Buenas prácticas del Dockerfile")
_add("title.compose.file", "Compose file valid", "Archivo compose válido")
_add("title.compose.services", "API and PostgreSQL services", "Servicios de la API y de PostgreSQL")
_add("title.compose.volume", "Database data on a named volume", "Datos de la base en un volumen con nombre")
_add("title.security.policy", "Safe to run", "Se puede ejecutar sin riesgo")
_add("title.dockerfile.build", "Image builds", "La imagen se construye")
_add("title.startup.up", "Stack starts", "El stack arranca")
_add("title.api.reachable", "API answers HTTP", "La API responde por HTTP")
_add("title.persistence.data", "Data survives `down` and `up`", "Los datos sobreviven a `down` y `up`")

# -- runner -------------------------------------------------------------------------------------
_add(
    "runner.prepare_crash",
    "The grader failed while preparing {step} ({error}). This is not a problem with your work; your "
    "instructor will look at it.",
    "El calificador falló al preparar {step} ({error}). No es un problema de tu trabajo; tu docente lo revisará.",
)
_add(
    "runner.no_stack",
    "The grader prepared no stack to run this check on. This is not a problem with your work; your "
    "instructor will look at it.",
    "El calificador no preparó ningún stack sobre el cual ejecutar esta verificación. No es un problema "
    "de tu trabajo; tu docente lo revisará.",
)
_add(
    "runner.crash",
    "The grader could not finish this check ({error}). This is not a problem with your work; your instructor "
    "will look at it.",
    "El calificador no pudo terminar esta comprobación ({error}). No es un problema de tu trabajo; tu docente lo "
    "revisará.",
)
_add(
    "runner.needs_pass",
    "Not graded: it needs '{needed}' to pass first ({state}).",
    "Sin calificar: antes tiene que aprobarse «{needed}» ({state}).",
)
_add(
    "runner.needs_run",
    "Not graded: it needs '{needed}' to run first ({state}).",
    "Sin calificar: antes tiene que ejecutarse «{needed}» ({state}).",
)
_add("state.not_run", "not run", "no ejecutada")
_add(
    "runner.root_error",
    "The root cause is in '{cause}' and is not your work's fault (the grading machine or the instructor's "
    "setup): this part is graded when the run is repeated.",
    "La causa de fondo está en «{cause}» y no es culpa de tu trabajo (la máquina que califica o la "
    "configuración del docente): esta parte se califica cuando se repita la ejecución.",
)
_add(
    "runner.root_cause",
    "The root cause is '{cause}': fixing that is what lets this check run.",
    "La causa de fondo es «{cause}»: al arreglarla se podrá calificar esta comprobación.",
)
_add("state.passed", "passed", "aprobada")
_add("state.failed", "failed", "fallida")
_add("state.error", "error", "error")
_add("state.skipped", "skipped", "omitida")

# -- dockerfile ---------------------------------------------------------------------------------
_add(
    "dockerfile.where_build",
    "the build of service `{service}` in {file}",
    "el build del servicio `{service}` en {file}",
)
_add("dockerfile.where_root", "the repository root", "la raíz del repositorio")
_add(
    "dockerfile.missing",
    "No Dockerfile at `{path}` ({where}). Create a file named `Dockerfile` (no extension) in the API's folder, "
    "starting with `FROM node:18`.",
    "No hay Dockerfile en `{path}` ({where}). Crea un archivo llamado `Dockerfile` (sin extensión) en la carpeta "
    "de la API, que empiece con `FROM node:18`.",
)
_add("dockerfile.files_in", "Files in {folder}: {listing}", "Archivos en {folder}: {listing}")
_add(
    "dockerfile.invalid",
    "`{path}` is not a valid Dockerfile ({error}). It must start with a `FROM` line.",
    "`{path}` no es un Dockerfile válido ({error}). Tiene que empezar con una línea `FROM`.",
)
_add("dockerfile.found", "Found `{path}` ({where}).", "Se encontró `{path}` ({where}).")
_add(
    "practices.all_ok",
    "The Dockerfile follows every practice of the class.",
    "El Dockerfile sigue todas las buenas prácticas vistas en clase.",
)
_add(
    "practices.to_fix",
    "{missing} of {total} Dockerfile practices to fix: {advice}",
    "Hay que corregir {missing} de {total} prácticas del Dockerfile: {advice}",
)
_add("practices.line", " (line {line})", " (línea {line})")
_add("practice.base_tag", "Base image pinned to a version (not `latest`)", "Imagen base con versión fija (no `latest`)")
_add(
    "practice.base_tag.fix",
    "`FROM {image}` changes whenever a new version is published. Pin a version, for example `FROM {example}`.",
    "`FROM {image}` cambia cada vez que se publica una versión nueva. Fija una versión, por ejemplo `FROM {example}`.",
)
_add("practice.workdir", "WORKDIR set for the app", "WORKDIR definido para la app")
_add(
    "practice.workdir.fix",
    "Add `WORKDIR /app` before your COPY lines, so the app does not land in `/`.",
    "Agrega `WORKDIR /app` antes de tus líneas COPY, para que la app no quede en `/`.",
)
_add(
    "practice.deps_first",
    "Dependency manifest copied and installed before the source",
    "Manifiesto de dependencias copiado e instalado antes del código",
)
_add(
    "practice.deps_first.never",
    "The image never installs the dependencies: add `RUN npm install` (or `npm ci`) after `COPY package*.json ./`.",
    "La imagen nunca instala las dependencias: agrega `RUN npm install` (o `npm ci`) después de "
    "`COPY package*.json ./`.",
)
_add(
    "practice.deps_first.fix",
    "Line {line} installs dependencies after the whole source was copied, so every code change reinstalls "
    "everything. Use `COPY package*.json ./`, then `RUN npm install`, then `COPY . .`.",
    "La línea {line} instala las dependencias después de copiar todo el código, así que cada cambio en el código "
    "vuelve a instalarlo todo. Usa `COPY package*.json ./`, luego `RUN npm install` y luego `COPY . .`.",
)
_add("practice.expose", "EXPOSE matches the published port", "EXPOSE coincide con el puerto publicado")
_add("practices.ok", "OK ", "OK ")
_add("practices.fix", "FIX", "CORREGIR")
_add(
    "practice.expose.missing",
    "Add `EXPOSE {port}`: it documents the port your app listens on.",
    "Agrega `EXPOSE {port}`: documenta el puerto en el que escucha tu app.",
)
_add(
    "practice.expose.mismatch",
    "The Dockerfile says `EXPOSE {exposed}` but compose publishes container port {targets}. Use the same port "
    "your app listens on in both.",
    "El Dockerfile dice `EXPOSE {exposed}` pero compose publica el puerto de contenedor {targets}. Usa en ambos "
    "el mismo puerto en el que escucha tu app.",
)
_add("practice.exec_cmd", "Exec-form CMD", "CMD en forma exec")
_add(
    "practice.exec_cmd.missing",
    "Add a start command in exec form, e.g. `{cmd}`.",
    "Agrega un comando de inicio en forma exec, por ejemplo `{cmd}`.",
)
_add(
    "practice.exec_cmd.shell",
    "Write `{instruction} {value}` in exec form, e.g. `{cmd}`. In shell form `/bin/sh` is "
    "PID 1 and does not pass SIGTERM on, so stopping the container takes 10 s.",
    "Escribe `{instruction} {value}` en forma exec, por ejemplo `{cmd}`. En forma shell, "
    "`/bin/sh` es el PID 1 y no reenvía SIGTERM, así que detener el contenedor tarda 10 s.",
)
_add("practice.dockerignore", ".dockerignore excludes node_modules", ".dockerignore excluye node_modules")
_add(
    "practice.dockerignore.missing",
    "Create a `.dockerignore` next to the Dockerfile containing `node_modules`, so your local modules are not "
    "copied into the image over the ones `npm install` built there.",
    "Crea un `.dockerignore` junto al Dockerfile que contenga `node_modules`, para que tus módulos locales no se "
    "copien a la imagen encima de los que instaló `npm install`.",
)
_add(
    "practice.dockerignore.fix",
    "Add a line `node_modules` to `.dockerignore`.",
    "Agrega una línea `node_modules` al `.dockerignore`.",
)
_add(
    "hint.npm_pid1",
    "Line {line}: `{tool}` as the main process does not pass SIGTERM to node, so `docker compose down` waits 10 s "
    "and then kills it. Prefer `{cmd}` (build the app in the image first, e.g. `RUN npm run build`), or "
    "`init: true` in compose.",
    "Línea {line}: `{tool}` como proceso principal no le pasa SIGTERM a node, así que `docker compose down` "
    "espera 10 s y luego lo mata. Mejor `{cmd}` (compilando la app en la imagen antes, por ejemplo "
    "`RUN npm run build`), o `init: true` en compose.",
)
_add(
    "hint.missing_table",
    "The app queries the table `{table}`, which does not exist yet: nothing created it before the app (or a "
    "seeder at boot) used it. Run the migrations when the stack starts (a one-shot `migrate` service the API "
    "`depends_on` with `condition: service_completed_successfully`, or TypeORM's `migrationsRun: true`), or, "
    "for this homework, let TypeORM create the tables with `synchronize: true`.",
    "La app consulta la tabla `{table}`, que todavía no existe: nada la creó antes de que la app (o "
    "un seeder al arrancar) la usara. Ejecuta las migraciones al levantar el stack (un servicio "
    "`migrate` que se ejecute una sola vez y del que la API dependa con `depends_on` y `condition: "
    "service_completed_successfully`, o `migrationsRun: true` de TypeORM) o, para esta tarea, deja "
    "que TypeORM cree las tablas con `synchronize: true`.",
)
_add("hint.hadolint", "Dockerfile line {line} ({code}): {message}", "Dockerfile línea {line} ({code}): {message}")

# -- compose ------------------------------------------------------------------------------------
_add(
    "compose.unknown_key",
    "`{key}` (in service `{service}`) is not a compose key.",
    "`{key}` (en el servicio `{service}`) no es una clave de compose.",
)
_add("compose.did_you_mean", " Did you mean `{guess}`?", " ¿Quisiste decir `{guess}`?")
_add(
    "compose.none",
    "No compose file at the root of the repository. Create `compose.yaml` (compose looks for {names}) describing "
    "the API and the database.",
    "No hay archivo compose en la raíz del repositorio. Crea `compose.yaml` (compose busca {names}) que describa "
    "la API y la base de datos.",
)
_add("compose.files_at_root", "Files at the root: {listing}", "Archivos en la raíz: {listing}")
_add(
    "compose.unreadable_model",
    "There is no compose model to read until the file is accepted.",
    "No hay modelo de compose que leer hasta que `docker compose config` acepte el archivo.",
)
_add(
    "compose.graded_without_env",
    "(Read with `{missing}` taken as empty, since it is not in the repository; the stack cannot start without it.)",
    "(Leído tomando `{missing}` como vacío, ya que no está en el repositorio; el stack no puede arrancar sin él.)",
)
_add(
    "compose.env_example_unread",
    "`{example}` is in the repository, but compose never reads it: only `{missing}`.",
    "`{example}` está en el repositorio, pero compose nunca lo lee: solo `{missing}`.",
)
_add(
    "compose.missing_env_file",
    "{file} loads `env_file: {missing}`, but `{missing}` is not in the repository, so compose cannot start "
    "anything. Keeping it out of git is right for real secrets; then the stack must still start without it: mark it "
    "optional (`env_file: [{{path: {missing}, required: false}}]`) and give the homework's values under "
    "`environment:` (`${{DB_PASSWORD:-postgres}}`), or commit a `{missing}` with the homework's non-secret values.",
    "{file} carga `env_file: {missing}`, pero `{missing}` no está en el repositorio, así que compose no puede "
    "arrancar nada. Dejarlo fuera de git está bien para secretos reales; entonces el stack tiene que arrancar igual "
    "sin él: márcalo opcional (`env_file: [{{path: {missing}, required: false}}]`) y pon los valores de la tarea en "
    "`environment:` (`${{DB_PASSWORD:-postgres}}`), o sube un `{missing}` con los valores no secretos de la tarea.",
)
_add(
    "compose.rejected",
    "`docker compose config` rejects {file}. {advice}",
    "`docker compose config` rechaza {file}. {advice}",
)
_add(
    "yaml.too_large",
    "{name} is larger than {kb} KB; the grader does not read it.",
    "{name} ocupa más de {kb} KB; el calificador no lo lee.",
)
_add(
    "yaml.bomb",
    "{name} expands to more than {nodes} values through YAML aliases (`*name`): a YAML bomb. "
    "The grader refuses it; write the values out or use fewer aliases.",
    "{name} se expande a más de {nodes} valores mediante alias de YAML (`*nombre`): una bomba YAML. "
    "El calificador lo rechaza; escribe los valores explícitamente o usa menos alias.",
)
_add(
    "compose.model_too_large",
    "{file} resolves to a model of more than {mb} MB (`docker compose config`): a compose file's model is a few KB. "
    "The grader refuses it; look for long values repeated through YAML aliases.",
    "{file} se resuelve en un modelo de más de {mb} MB (`docker compose config`): el modelo de un archivo compose "
    "ocupa pocos KB. El calificador lo rechaza; busca valores largos repetidos mediante alias de YAML.",
)
_add(
    "env.too_large",
    "{file} is larger than {kb} KB: an env file holds a few variables. The grader refuses to read it.",
    "{file} ocupa más de {kb} KB: un archivo env tiene unas pocas variables. El calificador no lo lee.",
)
_add(
    "compose.merge_sequence",
    "{file} line {line}: a merge of several anchors (`<<: [*a, *b]`) is read in a different order by different "
    "YAML parsers, so the grader cannot be sure which file compose would read. Merge one anchor per `<<`, or write "
    "the keys out.",
    "{file} línea {line}: una combinación de varias anclas (`<<: [*a, *b]`) se lee en distinto orden "
    "según el analizador de YAML, así que el calificador no puede saber qué archivo leería compose. "
    "Usa una sola ancla por cada `<<` o escribe las claves explícitamente.",
)
_add(
    "yaml.bomb_bytes",
    "{name} expands to more than {mb} MB of text through YAML aliases (`*name`) of long values. "
    "The grader refuses it; a compose file is a few KB.",
    "{name} se expande a más de {mb} MB de texto mediante alias de YAML (`*nombre`) de valores largos. "
    "El calificador lo rechaza; un archivo compose ocupa pocos KB.",
)
_add(
    "yaml.unknown_tag",
    "{name} line {line}: the YAML tag `{tag}` is not one compose knows (it knows `!reset` and `!override`). Remove it.",
    "{name} línea {line}: compose no reconoce la etiqueta YAML `{tag}` (solo conoce `!reset` y `!override`). Quítala.",
)
_add("yaml.too_deep", "{name} is nested too deeply.", "{name} tiene demasiados niveles de anidación.")
_add(
    "compose.outside",
    "{file} makes compose read files outside your repository ({refs}). The grader only reads your "
    "repository: use paths relative to it, such as `./.env` or `./api`.",
    "{file} hace que compose lea archivos fuera de tu repositorio ({refs}). El calificador solo lee tu "
    "repositorio: usa rutas relativas a él, como `./.env` o `./api`.",
)
_add(
    "dockerfile.too_large",
    "{path} is larger than {kb} KB: that is not a Dockerfile the grader reads.",
    "{path} ocupa más de {kb} KB: el calificador no lee un Dockerfile tan grande.",
)
_add(
    "file.unreadable",
    "{path} cannot be read ({error}). Check its permissions: the repository's files must be readable.",
    "{path} no se puede leer ({error}). Revisa sus permisos: los archivos del repositorio deben poder leerse.",
)
_add(
    "copy.links_outside",
    "These links point outside your repository, so the grader left them out: {links}. Docker "
    "cannot copy them into an image either; commit the real files instead.",
    "Estos enlaces simbólicos apuntan fuera de tu repositorio, así que el calificador los dejó "
    "fuera: {links}. Docker tampoco puede copiarlos en una imagen; sube los archivos reales.",
)
_add(
    "security.too_many_services",
    "the stack has {count} services and the grader runs at most {limit} (the homework needs 2 or 3)",
    "el stack tiene {count} servicios y el calificador ejecuta como máximo {limit} (la tarea necesita 2 o 3)",
)
_add(
    "hint.oom",
    "`{service}` used all of its {memory} of memory (the grader's limit per service; the kernel "
    "kills or stalls a program that wants more): look for a leak or a loop that keeps allocating.",
    "`{service}` usó toda su memoria ({memory}, el límite del calificador por servicio; el kernel "
    "mata o bloquea al programa que pide más): busca una fuga o un bucle que no deja de reservar "
    "memoria.",
)
_add(
    "runner.deadline",
    "The grader stopped this check after {seconds} s: its steps did not end within their own time "
    "limits, which points at the grading machine (the Docker engine not answering), not at your "
    "work. No points were taken; the instructor will grade it again.",
    "El calificador detuvo esta comprobación tras {seconds} s: sus pasos no terminaron dentro de sus "
    "propios límites de tiempo, lo que apunta a la máquina que califica (el motor de Docker no "
    "responde), no a tu trabajo. No se restaron puntos; tu docente la volverá a calificar.",
)
_add(
    "compose.not_utf8",
    "{file} is not UTF-8 text: line {line} has a byte compose cannot read (the file was probably "
    "saved as Latin-1 or Windows-1252, e.g. an accent in a comment). Save it as UTF-8 in your editor.",
    "{file} no es texto UTF-8: la línea {line} tiene un byte que compose no puede leer (probablemente "
    "se guardó como Latin-1 o Windows-1252, por ejemplo un acento en un comentario). Guárdalo como "
    "UTF-8 en tu editor.",
)
_add("compose.fix_reported", "Fix the error it reports:", "Corrige el error que informa:")
_add(
    "compose.several",
    "Compose uses {file}; {others} is ignored. Keep a single compose file.",
    "Compose usa {file} e ignora {others}. Deja un solo archivo compose.",
)
_add(
    "compose.override_merged",
    "Compose also merges {override} on top of {file}; the grader does too.",
    "Compose además combina {override} encima de {file}; el calificador también.",
)
_add(
    "compose.version_obsolete",
    "{where}: the `version:` key is obsolete in Compose v2 and ignored; you can delete it.",
    "{where}: la clave `version:` está obsoleta en Compose v2 y se ignora; puedes borrarla.",
)
_add("compose.valid", "{file} is valid for `docker compose config`.", "{file} es válido para `docker compose config`.")
_add("where.line", "{file} line {line}", "{file} línea {line}")
_add(
    "env.written",
    "`{file}` is not in the repository: the grader used the instructor's values for it.",
    "`{file}` no está en el repositorio: el calificador usó los valores del docente.",
)
_add(
    "compose.found_below",
    "The project is in the folder `{folder}/` of the repository: the grader graded it there.",
    "El proyecto está en la carpeta `{folder}/` del repositorio: el calificador lo calificó ahí.",
)
_add(
    "values.missing",
    "Not graded: the run failed while grading values the rubric does not give are missing: {gaps}. The "
    "repository reads them from files it keeps out of git, as it should, so only the instructor can supply them. "
    "Instructor: add them under `environment:` in the rubric and grade again (`grader rubric check RUBRIC "
    "--against REPOSITORIES` lists what a class needs). Nothing is deducted: this run is incomplete.",
    "Sin calificar: la ejecución falló mientras faltaban valores de calificación que la rúbrica no da: {gaps}. El "
    "repositorio los lee de archivos que deja fuera de git, como corresponde, así que solo el docente puede darlos. "
    "Docente: agrégalos en `environment:` de la rúbrica y califica de nuevo (`grader rubric check RÚBRICA "
    "--against REPOSITORIOS` lista lo que necesita un curso). No se descuenta nada: esta ejecución queda incompleta.",
)
_add(
    "values.missing_file",
    "Not graded: {file} loads `env_file: {missing}`, which the repository keeps out of git, as it should, and the "
    "rubric gives no grading values, so nothing can start. Instructor: give the values the app reads under "
    "`environment:` in the rubric (`grader rubric check RUBRIC --against REPOSITORIES` lists them) and grade again. "
    "Student: committing a `{missing}.example` with the homework's non-secret values lets the grader start your "
    "stack without your own file. Nothing is deducted: this run is incomplete.",
    "Sin calificar: {file} carga `env_file: {missing}`, que el repositorio deja fuera de git, como corresponde, y "
    "la rúbrica no da valores de calificación, así que nada puede arrancar. Docente: pon en `environment:` de la "
    "rúbrica los valores que lee la aplicación (`grader rubric check RÚBRICA --against REPOSITORIOS` los lista) y "
    "califica de nuevo. Estudiante: si subes un `{missing}.example` con los valores no secretos de la tarea, el "
    "calificador puede arrancar tu stack sin tu propio archivo. No se descuenta nada: esta ejecución queda incompleta.",
)
_add(
    "env.example_used",
    "`{file}` is not in the repository: the grader used the committed `{example}` in its place.",
    "`{file}` no está en el repositorio: el calificador usó en su lugar el `{example}` que sí está.",
)
_add(
    "compose.example_charged",
    "It does not start from a fresh clone, though: {files} is not in the repository, and the course's rubric takes "
    "{points} points for that (the grader used the example committed beside it).",
    "Pero no arranca desde un clon nuevo: {files} no está en el repositorio, y la rúbrica del curso descuenta "
    "{points} puntos por eso (el calificador usó el ejemplo que está a su lado).",
)
_add(
    "env.example_deducted",
    "Commit a way to start without `{file}`: mark it `required: false` and give the homework's values under "
    "`environment:` (or their defaults, `${{DB_HOST:-db}}`), so `docker compose up` works on a fresh clone.",
    "Sube al repositorio una forma de arrancar sin `{file}`: márcalo `required: false` y pon los "
    "valores de la tarea en `environment:` (o valores por defecto, `${{DB_HOST:-db}}`), para que "
    "`docker compose up` funcione en un clon nuevo del repositorio.",
)
_add(
    "env.completed",
    "`{file}` lacks {keys}: the grader added the instructor's values.",
    "`{file}` no define {keys}: el calificador agregó los valores del docente.",
)
_add(
    "services.no_app",
    "No service is built from your repository: give the API service `build: .` so compose builds it with your "
    "Dockerfile.",
    "Ningún servicio se construye desde tu repositorio: pon `build: .` en el servicio de la API para que compose "
    "lo construya con tu Dockerfile.",
)
_add(
    "services.no_db",
    "No PostgreSQL service: add one with `image: postgres:15` (any pinned version).",
    "No hay servicio de PostgreSQL: agrega uno con `image: postgres:15` (cualquier versión fija).",
)
_add(
    "services.no_port",
    'Service `{app}` publishes no port, so nobody can call the API: add `ports: ["3000:3000"]` (host:container, '
    "container = the port the app listens on).",
    "El servicio `{app}` no publica ningún puerto, así que nadie puede llamar a la API: agrega "
    '`ports: ["3000:3000"]` (host:contenedor; contenedor = el puerto en el que escucha la app).',
)
_add(
    "services.no_healthcheck",
    "Service `{db}` has no healthcheck, so `depends_on` only waits for the container to start, not for PostgreSQL "
    "to accept connections. Add a healthcheck with `pg_isready` and "
    "`depends_on: {{{db}: {{condition: service_healthy}}}}`.",
    "El servicio `{db}` no tiene healthcheck, así que `depends_on` solo espera a que arranque el contenedor, no a "
    "que PostgreSQL acepte conexiones. Agrega un healthcheck con `pg_isready` y "
    "`depends_on: {{{db}: {{condition: service_healthy}}}}`.",
)
_add(
    "services.ok",
    "API service `{app}` is built from the repo; database service `{db}` runs PostgreSQL.",
    "El servicio de la API `{app}` se construye desde el repositorio; el servicio `{db}` ejecuta PostgreSQL.",
)

# -- volume -------------------------------------------------------------------------------------
_add(
    "volume.no_db",
    "There is no PostgreSQL service whose data could be kept (see the services check).",
    "No hay un servicio de PostgreSQL cuyos datos se puedan conservar (ver la comprobación de servicios).",
)
_add(
    "volume.example",
    '`volumes: ["pgdata:{mount}"]` on `{db}` and a top-level `volumes: {{pgdata: {{}}}}`',
    '`volumes: ["pgdata:{mount}"]` en `{db}` y un `volumes: {{pgdata: {{}}}}` en el nivel superior del archivo',
)
_add("volume.pg_version", "`{image}` is PostgreSQL {major}", "`{image}` es PostgreSQL {major}")
_add(
    "volume.pg_newest",
    "`image: {image}` means the newest PostgreSQL (18 or later)",
    "`image: {image}` significa el PostgreSQL más nuevo (18 o posterior)",
)
_add(
    "volume.pg18_legacy_mount",
    "{where}: {version}. Since 18 the image keeps its data in {pgdata} and refuses to start with a mount at "
    "{legacy}. Mount the volume at {volume} instead (`pgdata:{volume}`), or pin `postgres:17` or older.",
    "{where}: {version}. Desde la 18 la imagen guarda sus datos en {pgdata} y se niega a arrancar con un montaje "
    "en {legacy}. Monta el volumen en {volume} (`pgdata:{volume}`), o fija `postgres:17` o anterior.",
)
_add(
    "volume.ok",
    "`{db}` keeps {pgdata} on the named volume `{volume}`.",
    "`{db}` guarda {pgdata} en el volumen con nombre `{volume}`.",
)
_add(
    "volume.bind",
    "{where}: the data directory is a folder of your repository (bind mount). The homework asks for a named "
    "volume managed by Docker: {example}.",
    "{where}: el directorio de datos es una carpeta de tu repositorio (bind mount). La tarea pide un volumen con "
    "nombre gestionado por Docker: {example}.",
)
_add(
    "volume.elsewhere",
    "{where}: `{db}` mounts {targets}, but `{image}` keeps its data in {pgdata}, so the data is not on your volume "
    "and is lost with the container. Use {example}.",
    "{where}: `{db}` monta {targets}, pero `{image}` guarda sus datos en {pgdata}, así que los datos no quedan en "
    "tu volumen y se pierden con el contenedor. Usa {example}.",
)
_add(
    "volume.none",
    "{where}: `{db}` has no volume, so the data disappears when the container is removed. Add {example}.",
    "{where}: `{db}` no tiene volumen, así que los datos desaparecen cuando se elimina el contenedor. Agrega "
    "{example}.",
)

# -- security -----------------------------------------------------------------------------------
_add("security.service", "service `{name}`", "servicio `{name}`")
_add(
    "security.privileged",
    "{where}: `privileged: true` gives the container full control of the machine",
    "{where}: `privileged: true` le da al contenedor control total de la máquina",
)
_add(
    "security.namespace",
    "{where}: `{key}: {value}` shares the machine's (or another container's) namespace",
    "{where}: `{key}: {value}` comparte el espacio de nombres de la máquina (o de otro contenedor)",
)
_add(
    "security.build_network",
    "{where}: `build.network: {network}` runs the build on a network outside the submission",
    "{where}: `build.network: {network}` ejecuta el build en una red fuera de la entrega",
)
_add(
    "security.build_context",
    "{where}: the build context {context} is outside the repository",
    "{where}: el contexto de build {context} está fuera del repositorio",
)
_add(
    "security.remote_context",
    "{where}: the build context {context} is fetched from the network by the grading machine; build from a folder "
    "of the repository",
    "{where}: el contexto de build {context} se descargaría de la red en la máquina que califica; "
    "construye desde una carpeta del repositorio",
)
_add(
    "security.add_url",
    "{where}: the Dockerfile (line {line}) runs `ADD {source}`: the grading machine itself would fetch a URL there "
    "(a variable may hold one). Commit the file and `COPY` it, or download it in a `RUN` step",
    "{where}: el Dockerfile (línea {line}) usa `ADD {source}`: la propia máquina que califica descargaría una URL ahí "
    "(una variable puede contenerla). Sube el archivo al repositorio y cópialo con `COPY`, o descárgalo en un paso "
    "`RUN`",
)
_add(
    "security.platform",
    "{where}: the Dockerfile (line {line}) asks for `FROM --platform={platform}`: another platform's image would "
    "replace the grading machine's under the same tag. Remove `--platform`",
    "{where}: el Dockerfile (línea {line}) pide `FROM --platform={platform}`: la imagen de otra plataforma "
    "reemplazaría a la de la máquina que califica con la misma etiqueta. Quita `--platform`",
)
_add(
    "security.cap_add",
    "{where}: `cap_add: {caps}` adds kernel capabilities",
    "{where}: `cap_add: {caps}` agrega capacidades del kernel",
)
_add(
    "security.devices",
    "{where}: `devices` gives access to the machine's devices",
    "{where}: `devices` da acceso a los dispositivos de la máquina",
)
_add(
    "security.socket", "the Docker socket (full control of the engine)", "el socket de Docker (control total del motor)"
)
_add(
    "security.bind_outside",
    "{where}: bind mount of {what}: only folders inside the repository may be mounted",
    "{where}: bind mount de {what}: solo se pueden montar carpetas dentro del repositorio",
)
_add("security.other_mount", "{where}: a `{kind}` mount of {source}", "{where}: un montaje `{kind}` de {source}")
_add(
    "security.external_volume",
    "volume `{name}`: `external: true` would use a volume that is not part of the submission",
    "volumen `{name}`: `external: true` usaría un volumen que no es parte de la entrega",
)
_add(
    "security.external_network",
    "network `{name}` is not part of the submission (external or host)",
    "la red `{name}` no es parte de la entrega (externa o host)",
)
_add(
    "security.outside_file",
    "{kind} `{name}`: file {file} is outside the repository",
    "{kind} `{name}`: el archivo {file} está fuera del repositorio",
)
_add(
    "security.network_mode",
    "{where}: `network_mode: {value}` puts the container on a network outside the submission's own",
    "{where}: `network_mode: {value}` conecta el contenedor a una red que no es de la entrega",
)
_add(
    "security.cgroup_parent",
    "{where}: `cgroup_parent` places the container in the machine's own control groups",
    "{where}: `cgroup_parent` coloca el contenedor en los grupos de control de la máquina",
)
_add(
    "security.runtime",
    "{where}: `runtime` chooses another container runtime of the machine",
    "{where}: `runtime` elige otro runtime de contenedores de la máquina",
)
_add(
    "security.gpus",
    "{where}: `gpus` gives access to the machine's GPUs",
    "{where}: `gpus` da acceso a las GPU de la máquina",
)
_add(
    "security.sysctls",
    "{where}: `sysctls` changes kernel settings",
    "{where}: `sysctls` cambia parámetros del kernel",
)
_add(
    "security.external_links",
    "{where}: `external_links` connects to containers that are not part of the submission",
    "{where}: `external_links` conecta con contenedores que no son parte de la entrega",
)
_add(
    "security.credential_spec",
    "{where}: `credential_spec` reads credentials of the machine",
    "{where}: `credential_spec` lee credenciales de la máquina",
)
_add(
    "security.provider",
    "{where}: `provider` makes compose run a program of the machine instead of a container",
    "{where}: `provider` hace que compose ejecute un programa de la máquina en lugar de un contenedor",
)
_add(
    "security.models",
    "{where}: `models` makes the machine download and run AI models",
    "{where}: `models` hace que la máquina descargue y ejecute modelos de IA",
)
_add(
    "security.api_socket",
    "{where}: `use_api_socket` gives the container the Docker engine and its logins",
    "{where}: `use_api_socket` le da al contenedor el motor de Docker y sus credenciales",
)
_add(
    "security.container_specs",
    "`{key}` starts containers the grader cannot limit (the homework does not need it)",
    "`{key}` arranca contenedores que el calificador no puede limitar (la tarea no lo necesita)",
)
_add("security.top_level", "the compose file", "el archivo compose")
_add(
    "security.volume_driver",
    "{where}: `volume_driver: {driver}` uses a volume plugin of the machine",
    "{where}: `volume_driver: {driver}` usa un plugin de volúmenes de la máquina",
)
_add(
    "security.security_opt",
    "{where}: `security_opt: {opt}` changes the container's confinement (only `no-new-privileges` is allowed)",
    "{where}: `security_opt: {opt}` cambia el aislamiento del contenedor (solo se permite `no-new-privileges`)",
)
_add(
    "security.host_gateway",
    "{where}: `extra_hosts: {entry}` gives the container a name for the grading machine itself",
    "{where}: `extra_hosts: {entry}` le da al contenedor un nombre de host que apunta a la propia máquina que califica",
)
_add(
    "security.volumes_from",
    "{where}: `volumes_from: {source}` mounts the volumes of a container that is not part of the submission",
    "{where}: `volumes_from: {source}` monta los volúmenes de un contenedor que no es parte de la entrega",
)
_add(
    "security.privileged_hook",
    "{where}: a `post_start`/`pre_stop` hook with `privileged: true` runs with full control of the machine",
    "{where}: un hook `post_start`/`pre_stop` con `privileged: true` se ejecuta con control total de la máquina",
)
_add(
    "security.build_dockerfile",
    "{where}: `build.dockerfile: {dockerfile}` is outside the repository",
    "{where}: `build.dockerfile: {dockerfile}` está fuera del repositorio",
)
_add(
    "security.build_ssh",
    "{where}: `build.ssh` gives the build the machine's SSH agent or keys",
    "{where}: `build.ssh` le da al build el agente o las claves SSH de la máquina",
)
_add(
    "security.build_entitlements",
    "{where}: `build.entitlements` asks the builder for extra privileges",
    "{where}: `build.entitlements` pide privilegios extra al builder",
)
_add(
    "security.volume_plugin",
    "volume `{name}`: `driver: {driver}` uses a volume plugin of the machine",
    "volumen `{name}`: `driver: {driver}` usa un plugin de volúmenes de la máquina",
)
_add(
    "security.network_driver",
    "network `{name}`: `driver: {driver}` connects containers to the machine's own network",
    "red `{name}`: `driver: {driver}` conecta los contenedores a la red de la propia máquina",
)
_add(
    "security.network_opts",
    "network `{name}`: `driver_opts` changes how the network attaches to the machine",
    "red `{name}`: `driver_opts` cambia cómo se conecta la red a la máquina",
)
_add(
    "security.network_ipam",
    "network `{name}`: a custom `ipam` driver or options",
    "red `{name}`: un driver u opciones de `ipam` propios",
)
_add(
    "security.external_item",
    "{kind} `{name}`: `external: true` would use one that is not part of the submission",
    "{kind} `{name}`: con `external: true` se usaría un recurso que no es parte de la entrega",
)
_add(
    "security.grader_variable_item",
    "{kind} `{name}`: `environment: {var}` would read the grading machine's own environment",
    "{kind} `{name}`: `environment: {var}` leería el entorno de la propia máquina que califica",
)
_add(
    "compose.unreadable",
    "{file} is not valid YAML, so the grader does not give it to compose: {error}",
    "{file} no es YAML válido, así que el calificador no se lo pasa a compose: {error}",
)
_add(
    "yaml.several_documents",
    "{name} holds {count} YAML documents (separated by `---`); write one compose file as one document.",
    "{name} contiene {count} documentos YAML (separados por `---`); escribe un archivo compose como un solo documento.",
)
_add(
    "compose.grader_variables",
    "{file} uses variables of the grading machine's own environment ({names}): their values are the "
    "grader's, not yours. Define what your app needs in `.env` under another name.",
    "{file} usa variables del entorno de la propia máquina que califica ({names}): sus valores son del "
    "calificador, no tuyos. Define lo que necesita tu app en `.env` con otro nombre.",
)
_add(
    "security.rewritten",
    "Rewritten for grading, so the run cannot touch the engine's other images and volumes: {notes}.",
    "Se reescribió para calificar, de modo que la ejecución no toque otras imágenes ni volúmenes del motor: {notes}.",
)
_add(
    "rewrite.image",
    "`image: {image}` of the built service `{service}` is not written (the grader names the image itself)",
    "`image: {image}` del servicio construido `{service}` no se aplica (el calificador le pone nombre a la imagen)",
)
_add(
    "rewrite.keys",
    "{keys} of `{service}` left out",
    "{keys} de `{service}` se omiten",
)
_add(
    "rewrite.volumes",
    "volume `{key}` is `{scoped}`, not `{name}`",
    "el volumen `{key}` es `{scoped}`, no `{name}`",
)
_add(
    "rewrite.networks",
    "network `{key}` is `{scoped}`, not `{name}`",
    "la red `{key}` es `{scoped}`, no `{name}`",
)
_add(
    "security.outside_service_file",
    "{where}: `{key}` {file} is outside the repository",
    "{where}: `{key}` {file} está fuera del repositorio",
)
_add(
    "security.annotations",
    "{where}: `annotations` pass settings straight to the container runtime",
    "{where}: `annotations` pasan opciones directamente al runtime de contenedores",
)
_add(
    "security.subpath",
    "{where}: the volume mounted at {target} uses `subpath` (not needed for the homework)",
    "{where}: el volumen montado en {target} usa `subpath` (la tarea no lo necesita)",
)
_add("security.bind_source", "the bind mount `{source}` of {where}", "el bind mount `{source}` del {where}")
_add(
    "security.swappable",
    "{what} is inside {outer}, which a container mounts writable: that container could replace it with a link "
    "to the grading machine's files before it is mounted. Mount {outer} read-only (`:ro`) or mount separate folders",
    "{what} está dentro de {outer}, que un contenedor monta con escritura: ese contenedor podría reemplazarlo por "
    "un enlace a archivos de la máquina que califica antes de que se monte. Monta {outer} en solo lectura (`:ro`) "
    "o monta carpetas separadas",
)
_add(
    "security.endpoint_opts",
    "{where}: `networks.{network}.driver_opts` passes settings to the machine's network driver",
    "{where}: `networks.{network}.driver_opts` pasa opciones al driver de red de la máquina",
)
_add(
    "security.volume_opts",
    "volume `{name}`: `driver_opts` ({opts}) mount something other than a folder of the repository (allowed: "
    "`type: none`, `o: bind` and an absolute `device` inside the repository, or a tmpfs)",
    "volumen `{name}`: `driver_opts` ({opts}) montan algo que no es una carpeta del repositorio (se permite: "
    "`type: none`, `o: bind` y un `device` absoluto dentro del repositorio, o un tmpfs)",
)
_add(
    "security.tmpfs_size",
    "volume `{name}`: a tmpfs without one `size=` above 0 and one `nr_inodes=` (files, at most {inodes}) in `o:` "
    "may take the grading machine's memory; give it both, for example `o: size=64m,nr_inodes={inodes}` (at most "
    "{mb}m in all)",
    "volumen `{name}`: un tmpfs sin un único `size=` mayor que 0 y un `nr_inodes=` (archivos, como mucho "
    "{inodes}) en `o:` puede ocupar la memoria de la máquina que califica; dale ambos, por ejemplo "
    "`o: size=64m,nr_inodes={inodes}` (como mucho {mb}m en total)",
)
_add(
    "security.tmpfs_budget",
    "tmpfs volumes {names} take {mb} MB of the grading machine's memory, outside every service's limit; together "
    "at most {budget} MB",
    "los volúmenes tmpfs {names} ocupan {mb} MB de la memoria de la máquina que califica, fuera del límite de cada "
    "servicio; entre todos, como mucho {budget} MB",
)
_add(
    "security.fixed_address",
    "{where}: `link_local_ips` on network `{network}`",
    "{where}: `link_local_ips` en la red `{network}`",
)
_add(
    "security.subnet_public",
    "network `{name}`: subnet {subnet} is not a private range (use one such as 172.28.0.0/16)",
    "red `{name}`: la subred {subnet} no es un rango privado (usa uno como 172.28.0.0/16)",
)
_add(
    "security.subnet_overlap",
    "network `{name}`: subnet {subnet} covers {route}, a network of the grading machine itself; choose another "
    "private range (or leave the subnet out: Docker picks a free one)",
    "red `{name}`: la subred {subnet} se superpone con {route}, una red de la propia máquina que "
    "califica; elige otro rango privado (o no pongas subred: Docker elige una libre)",
)
_add(
    "security.refused",
    "The grader refuses to run this compose file: it asks for access to the grading machine, which the homework "
    "never needs. Remove these settings: {findings}.",
    "El calificador se niega a ejecutar este archivo compose: pide acceso a la máquina que califica, algo que la "
    "tarea nunca necesita. Quita estas opciones: {findings}.",
)
_add(
    "security.ok",
    "Nothing in the compose file reaches outside its containers.",
    "Ninguna opción del archivo compose accede a algo fuera de sus contenedores.",
)

# -- build and startup --------------------------------------------------------------------------
_add(
    "build.nothing",
    "Not graded: no service in the compose file is built from the repository.",
    "Sin calificar: ningún servicio del archivo compose se construye desde el repositorio.",
)
_add(
    "build.timeout",
    "The build did not finish within {seconds} s. Look for a step that waits forever (a server started in RUN, an "
    "interactive prompt).",
    "El build no terminó en {seconds} s. Busca un paso que espere para siempre (un servidor iniciado en RUN, una "
    "pregunta interactiva).",
)
_add("build.ok", "Built {services} from your Dockerfile.", "Construido con tu Dockerfile: {services}.")
_add(
    "build.network",
    "The build failed because the grading machine could not download something (registry or network "
    "unreachable). This is not a problem with your work.",
    "El build falló porque la máquina que califica no pudo descargar algo (registro o red inalcanzable). No es un "
    "problema de tu trabajo.",
)
_add("build.step", "`{instruction}` (step {step} of {steps})", "`{instruction}` (paso {step} de {steps})")
_add(
    "build.limits",
    "Every build step runs with the grader's limits ({memory} of memory, {cpus} CPU, {pids} processes, {disk} of "
    "disk for the whole run), like your services: this step reached one (killed for memory or disk, or unable to "
    "start more processes).",
    "Cada paso del build se ejecuta con los límites del calificador ({memory} de memoria, {cpus} CPU, {pids} "
    "procesos, {disk} de disco para toda la ejecución), como tus servicios: este paso llegó a uno (terminado por "
    "memoria o disco, o sin poder crear más procesos).",
)
_add(
    "build.failed",
    "The image does not build: {what} failed. Its output is below; run `docker compose build` on your machine to "
    "see the same error.",
    "La imagen no se construye: falló {what}. Abajo está su salida; ejecuta `docker compose build` en tu máquina "
    "para ver el mismo error.",
)
_add(
    "startup.shared_workdir",
    "This submission bind-mounts folders of the repository, and the grader runs in a container whose working copy "
    "the engine cannot see. Run the grader's container with "
    "`-v /tmp/compose-grader:/tmp/compose-grader -e TMPDIR=/tmp/compose-grader`. This is not a problem with your "
    "work.",
    "Esta entrega monta carpetas del repositorio (bind mount) y el calificador corre en un contenedor cuya copia de "
    "trabajo el motor no ve. Ejecuta el contenedor del calificador con "
    "`-v /tmp/compose-grader:/tmp/compose-grader -e TMPDIR=/tmp/compose-grader`. No es un problema de tu trabajo.",
)
_add(
    "startup.up_timeout",
    "`docker compose up` did not finish within {seconds} s.",
    "`docker compose up` no terminó en {seconds} s.",
)
_add(
    "startup.network",
    "The stack could not start because the grading machine could not download an image (registry unreachable). "
    "This is not a problem with your work.",
    "El stack no pudo arrancar porque la máquina que califica no pudo descargar una imagen (registro "
    "inalcanzable). No es un problema de tu trabajo.",
)
_add(
    "startup.up_failed",
    "`docker compose up` could not start the stack.",
    "`docker compose up` no pudo arrancar el stack.",
)
_add(
    "startup.up_failed_because",
    "`docker compose up` could not start the stack: {reason}",
    "`docker compose up` no pudo arrancar el stack: {reason}",
)
_add("startup.crashed", "A service does not stay up: {reason}", "Un servicio no se mantiene en marcha: {reason}")
_add(
    "startup.not_ready",
    "Not every service was ready within {seconds} s: {reason}",
    "No todos los servicios estuvieron listos en {seconds} s: {reason}",
)
_add(
    "startup.left_out",
    "Not started, as the course's rubric asks (they help the developer and are not graded): {services}.",
    "No se levantaron, como pide la rúbrica del curso (ayudan al desarrollo y no se califican): {services}.",
)
_add("startup.ok", "The stack started: {running} running.", "El stack arrancó: {running} en marcha.")
_add(
    "startup.one_shot",
    "{services} ran and finished with exit code 0 (a one-shot, like a migration: that is expected).",
    "Terminaron con código 0: {services} (servicios de una sola ejecución, como una migración: es lo esperado).",
)
_add("startup.what", "Startup", "El arranque")
_add("api.what", "The API check", "La comprobación de la API")
_add(
    "startup.root_cause",
    "{what} is not graded: `{service}` crashed at startup, which '{check}' already deducts (its feedback says "
    "why). Fix that and this is graded too.",
    "{what} no se califica: `{service}` se cayó al arrancar, y «{check}» ya lo descuenta (su "
    "devolución explica por qué). Arregla eso y esto también se califica.",
)
_add("persistence.what", "The data check", "La comprobación de datos")
_add("scenario.what", "The persistence scenario", "El escenario de persistencia")
_add(
    "volume.lost_root_cause",
    "{what} is not graded: the data was lost after `docker compose down` and `up`, because PostgreSQL's data "
    "directory is not on a named volume, the fault '{check}' already deducts. Fix that mount and this is graded too.",
    "{what} no se califica: los datos se perdieron después de `docker compose down` y `up` porque el "
    "directorio de datos de PostgreSQL no está en un volumen con nombre, el error que «{check}» ya "
    "descuenta. Arregla ese montaje y esto también se califica.",
)
_add(
    "volume.root_cause",
    "{what} is not graded: `{db}` refused to start because of its volume's mount path, the fault '{check}' already "
    "deducts. Fix that mount and this is graded too.",
    "{what} no se califica: `{db}` no arrancó por la ruta de montaje de su volumen, el error que «{check}» ya "
    "descuenta. Arregla ese montaje y esto también se califica.",
)
_add("state.exited", "`{service}` stopped with exit code {code}", "`{service}` se detuvo con código de salida {code}")
_add("state.restarting", "`{service}` keeps crashing and restarting", "`{service}` se cae y se reinicia una y otra vez")
_add(
    "state.unhealthy",
    "`{service}` is running but its healthcheck fails",
    "`{service}` está en marcha pero su healthcheck falla",
)
_add(
    "state.health_starting",
    "`{service}` runs, but its healthcheck has not passed yet (the check's last output is below)",
    "`{service}` está en marcha, pero su healthcheck todavía no ha pasado (abajo, la última salida del healthcheck)",
)
_add("logs.healthcheck", "Last healthcheck of `{service}`:", "Último healthcheck de `{service}`:")
_add(
    "state.disk_full",
    "`{service}` was stopped by the grader: the stack wrote more to disk than it may",
    "`{service}` lo detuvo el calificador: el stack escribió en disco más de lo permitido",
)
_add(
    "hint.disk",
    "a graded run may write {disk} in all (containers, volumes and bind mounts); an API and its database "
    "need about 100 MB. Look for a loop that writes files or logs to disk",
    "durante la calificación se pueden escribir {disk} en total (contenedores, volúmenes y bind "
    "mounts); una API y su base de datos necesitan unos 100 MB. Busca un bucle que escriba archivos "
    "o logs en disco",
)
_add(
    "state.memory_full",
    "`{service}` runs but has filled its memory limit, so it stalls",
    "`{service}` está en marcha pero llenó su límite de memoria, así que se atasca",
)
_add(
    "api.memory_full",
    "Service `{app}` cannot answer HTTP: it has filled its memory limit and stalls.",
    "El servicio `{app}` no puede responder HTTP: llenó su límite de memoria y se atasca.",
)
_add("state.other", "`{service}` is {state}", "`{service}` está en estado {state}")
_add("logs.last_lines", "--- last log lines of {service} ---", "--- últimas líneas del log de {service} ---")
_add("logs.none", "(no output)", "(sin salida)")
_add(
    "hint.no_password",
    "PostgreSQL refuses to initialise without a password: set POSTGRES_PASSWORD in the database service's "
    "`environment:` (or its env file).",
    "PostgreSQL se niega a inicializarse sin contraseña: define POSTGRES_PASSWORD en el `environment:` del "
    "servicio de la base de datos (o en su archivo env).",
)

# -- api ----------------------------------------------------------------------------------------
_add(
    "api.no_app",
    "Not graded: there is no API service built from the repository.",
    "Sin calificar: no hay un servicio de API construido desde el repositorio.",
)
_add(
    "api.no_port",
    "Service `{app}` publishes no port, so the API cannot be called from outside.",
    "El servicio `{app}` no publica ningún puerto, así que no se puede llamar a la API desde afuera.",
)
_add(
    "api.stopped",
    "Service `{app}` stopped before answering HTTP.",
    "El servicio `{app}` se detuvo antes de responder por HTTP.",
)
_add(
    "api.no_db",
    "The API answers HTTP, but it cannot reach the database. {hint}",
    "La API responde por HTTP, pero no logra conectarse a la base de datos. {hint}",
)
_add("api.from_log", "--- from the log of {service} ---", "--- del log de {service} ---")
_add("api.ok", "The API answers: GET / returned HTTP {status}.", "La API responde: GET / devolvió HTTP {status}.")
_add(
    "api.unreachable",
    "The API does not answer HTTP on container port {port}. {reason}",
    "La API no responde por HTTP en el puerto de contenedor {port}. {reason}",
)
_add("api.listening", "listening inside `{app}`: {sockets}", "escuchando dentro de `{app}`: {sockets}")
_add("api.last_error", " (last error: {error})", " (último error: {error})")
_add("api.none", "none", "nada")
_add(
    "hint.db_localhost",
    "Your app tries to reach PostgreSQL at localhost:5432. Inside a container, localhost is the app's own "
    "container, not the database. Use the database's compose service name as the host (for example DB_HOST=db).",
    "Tu app intenta conectarse a PostgreSQL en localhost:5432. Dentro de un contenedor, localhost es el propio "
    "contenedor de la app, no la base de datos. Usa como host el nombre del servicio de la base en compose (por "
    "ejemplo DB_HOST=db).",
)
_add(
    "hint.fixed_ip",
    "`{key}` uses the IP address {address}. A container's IP changes every time the stack is created; use the "
    "database's compose service name instead (for example DB_HOST=db): compose's DNS resolves it.",
    "`{key}` usa la dirección IP {address}. La IP de un contenedor cambia cada vez que se crea el stack; usa en su "
    "lugar el nombre del servicio de la base en compose (por ejemplo DB_HOST=db): el DNS de compose lo resuelve.",
)
_add(
    "hint.db_not_ready",
    "The app tried the database before PostgreSQL accepted connections and gave up. `depends_on` alone only waits "
    "for the container to start: give the database a healthcheck (`pg_isready`) and use "
    "`depends_on: {{db: {{condition: service_healthy}}}}`, or retry the connection in the app.",
    "La app intentó usar la base antes de que PostgreSQL aceptara conexiones y dejó de intentarlo. "
    "`depends_on` solo espera a que arranque el contenedor: dale a la base un healthcheck "
    "(`pg_isready`) y usa `depends_on: {{db: {{condition: service_healthy}}}}`, o reintenta la "
    "conexión en la app.",
)
_add(
    "listen.loopback",
    "Your app listens on {address}:{port} inside the container, so only the container itself can reach it. Listen "
    "on all interfaces: `app.listen(PORT, '0.0.0.0')` or just `app.listen(PORT)`.",
    "Tu app escucha en {address}:{port} dentro del contenedor, así que solo el propio contenedor puede llegar a "
    "ella. Escucha en todas las interfaces: `app.listen(PORT, '0.0.0.0')` o simplemente `app.listen(PORT)`.",
)
_add(
    "listen.other_port",
    "Nothing listens on container port {port}, which compose publishes; the app listens on {ports}. Make the port "
    "in `ports:` (the right-hand side) the one your app listens on.",
    "Nada escucha en el puerto de contenedor {port}, que es el que publica compose; la app escucha en {ports}. "
    "Haz que el puerto de `ports:` (el de la derecha) sea el mismo en el que escucha tu app.",
)
_add(
    "listen.nothing",
    "Nothing listens on container port {port} inside the container. Check that the app starts its HTTP server (see "
    "the logs below) and on which port.",
    "Nada escucha en el puerto de contenedor {port}. Revisa que la app inicie su servidor HTTP (mira los logs de "
    "abajo) y en qué puerto.",
)
_add(
    "listen.silent",
    "Port {port} is open inside the container but did not answer HTTP requests.",
    "El puerto {port} está abierto dentro del contenedor pero no respondió a peticiones HTTP.",
)

# -- persistence --------------------------------------------------------------------------------
_add(
    "persistence.db_down",
    "The database did not accept connections {when}: {reason}",
    "La base de datos no aceptó conexiones {when}: {reason}",
)
_add(
    "persistence.sql_auth",
    "The grader could not log in to `{db}` with its `POSTGRES_USER`/`POSTGRES_PASSWORD` ({error}).",
    "El calificador no pudo iniciar sesión en `{db}` con su `POSTGRES_USER`/`POSTGRES_PASSWORD` ({error}).",
)
_add(
    "persistence.sql_query",
    "`{db}` answered the grader's SQL with an error ({error}). The data check writes a row to a table of its own "
    "and reads it back; a PostgreSQL server that refuses that cannot be graded.",
    "`{db}` respondió al SQL del calificador con un error ({error}). La comprobación de datos "
    "escribe una fila en una tabla propia y la vuelve a leer; si PostgreSQL rechaza eso, no se puede "
    "calificar.",
)
_add(
    "persistence.sql_too_large",
    "`{db}` answered the grader's SQL with more than it reads ({error}): PostgreSQL answers it with one row.",
    "`{db}` respondió al SQL del calificador con más datos de los que el calificador acepta "
    "({error}): PostgreSQL debería responder con una sola fila.",
)
_add(
    "persistence.sql_timeout",
    "`{db}` did not answer the grader's SQL ({error}).",
    "`{db}` no respondió al SQL del calificador ({error}).",
)
_add("persistence.when_started", "after the stack started", "después de arrancar el stack")
_add("persistence.when_recreated", "after the containers were recreated", "después de recrear los contenedores")
_add("persistence.not_running", "it is not running.", "no está en marcha.")
_add(
    "persistence.no_db", "Not graded: there is no PostgreSQL service.", "Sin calificar: no hay servicio de PostgreSQL."
)
_add(
    "persistence.left",
    "`docker compose down` left {count} containers; could not test persistence.",
    "Después de `docker compose down` quedaron {count} contenedores; no se pudo probar la persistencia.",
)
_add(
    "persistence.ok",
    "The data survived removing the containers: the row written before `docker compose down` was there after `up`.",
    "Los datos sobrevivieron a la eliminación de los contenedores: la fila escrita antes de `docker compose down` "
    "seguía ahí después de `up`.",
)
_add(
    "persistence.lost",
    "The data was lost when the containers were removed: a row written before `docker compose down` was gone after "
    "`up`. Keep PostgreSQL's data on a named volume: mount one at {mount} in service `{db}` and declare it under "
    "the top-level `volumes:`.",
    "Los datos se perdieron al eliminar los contenedores: una fila escrita antes de `docker compose down` ya no "
    "estaba después de `up`. Guarda los datos de PostgreSQL en un volumen con nombre: móntalo en {mount} en el "
    "servicio `{db}` y decláralo en el `volumes:` de nivel superior.",
)
_add(
    "persistence.evidence",
    "wrote marker {marker}... to {table}; `docker compose down` (volumes kept); `up`; marker {result}",
    "se escribió la marca {marker}... en {table}; `docker compose down` (se conservan los volúmenes); `up`; "
    "marca {result}",
)
_add("persistence.found", "found", "encontrada")
_add("persistence.missing", "missing", "ausente")

# -- scenarios ----------------------------------------------------------------------------------
_add(
    "scenario.no_port",
    "Not graded: the API has no reachable port.",
    "Sin calificar: la API no tiene un puerto alcanzable.",
)
_add(
    "scenario.ok",
    "{name}: all {count} requests answered as expected ({seconds} s).",
    "{name}: las {count} peticiones recibieron la respuesta esperada ({seconds} s).",
)
_add("scenario.failed", "{name}: {reason}", "{name}: {reason}")
_add(
    "scenario.no_api",
    "The API did not answer HTTP, so the scenario could not start.",
    "La API no respondió por HTTP, así que el escenario no pudo empezar.",
)
_add("scenario.before", "Before removing the containers: {reason}", "Antes de eliminar los contenedores: {reason}")
_add(
    "scenario.no_api_after",
    "After `docker compose down` and `up` the API did not answer HTTP.",
    "Después de `docker compose down` y `up` la API no respondió por HTTP.",
)
_add(
    "scenario.kept",
    "What the API stored before `docker compose down` was still there after `up`.",
    "Lo que la API guardó antes de `docker compose down` seguía ahí después de `up`.",
)
_add(
    "scenario.lost",
    "After `docker compose down` and `up`: {reason} The API's data did not survive.",
    "Después de `docker compose down` y `up`: {reason} Los datos de la API no sobrevivieron.",
)
_add(
    "scenario.not_run",
    "The persistence cycle did not run the scenario.",
    "El ciclo de persistencia no ejecutó el escenario.",
)
_add("step.no_answer", "`{request}` got no answer ({error}).", "`{request}` no obtuvo respuesta ({error}).")
_add(
    "step.status",
    "`{request}` answered HTTP {got}; expected {expected}.",
    "`{request}` respondió HTTP {got}; se esperaba {expected}.",
)
_add(
    "step.too_long",
    "`{request}` answered with more than the grader reads ({limit}): an API's answer to one request is a few KB.",
    "`{request}` respondió con más de lo que el calificador lee ({limit}): la respuesta de una API a una petición "
    "ocupa pocos KB.",
)
_add("step.not_json", "`{request}` did not answer JSON.", "`{request}` no respondió JSON.")
_add("step.json", "`{request}` answered without {expected}.", "`{request}` respondió sin {expected}.")
_add("step.text", "`{request}` answered without the text `{text}`.", "`{request}` respondió sin el texto `{text}`.")
_add(
    "step.capture",
    "`{request}`: the answer has no `{path}` to remember as {name}.",
    "`{request}`: la respuesta no tiene `{path}` para recordarlo como {name}.",
)

# -- reports ------------------------------------------------------------------------------------
_add(
    "report.withheld",
    "The instructor keeps this check's feedback hidden until grades are published.",
    "El docente mantiene oculta la devolución de esta comprobación hasta publicar las notas.",
)
_add("report.points_line", "points: {points}/{max}", "puntos: {points}/{max}")
_add("report.md_title", "## Docker homework: {score}/{max} points", "## Tarea de Docker: {score}/{max} puntos")
_add("report.md_columns", "| Check | Result | Points |", "| Comprobación | Resultado | Puntos |")
_add(
    "report.md_error",
    "⚠️ **The grader could not grade this submission**: {error}",
    "⚠️ **No se pudo calificar esta entrega**: {error}",
)
_add("report.not_graded", "Not graded", "Sin calificar")
_add(
    "report.incomplete",
    "⚠️ **Incomplete, not a grade**: {points} points could not be graded ({checks}) because of the grader, the "
    "grading machine or the instructor's grading values, not of the submission (the checks below say which). "
    "Grade it again (re-run the job); if it happens again, tell the instructor.",
    "⚠️ **Incompleta, no es una nota**: {points} puntos no se pudieron calificar ({checks}) por el "
    "calificador, la máquina que califica o los valores de calificación del docente, no por la entrega (las "
    "comprobaciones de abajo dicen cuál). Vuelve a ejecutar el job para calificarla de nuevo; si se repite, "
    "avisa al docente.",
)
_add(
    "report.gradescope_placeholder",
    "The score 0 is a placeholder until the run is repeated, not your grade.",
    "El 0 es provisorio hasta volver a calificar, no es tu nota.",
)
_add(
    "report.image_used",
    "The course fixes image versions: `{written}` ({where}) was graded as `{used}`.",
    "El curso fija las versiones de las imágenes: `{written}` ({where}) se calificó con `{used}`.",
)
_add("report.md_fix", "### What to fix", "### Qué corregir")
_add("report.md_line", " line {line}", " línea {line}")
_add("report.md_tips", "### Tips (no points)", "### Consejos (no restan puntos)")
_add(
    "report.project_below",
    "Project graded in the folder `{folder}/` of the repository (no compose file at its root).",
    "Proyecto calificado en la carpeta `{folder}/` del repositorio (no hay archivo compose en la raíz).",
)
_add(
    "report.left_out",
    "Not started and not graded (helpers, by the rubric): {services}.",
    "No se levantaron ni se califican (auxiliares, según la rúbrica): {services}.",
)
_add(
    "report.lint",
    "Static checks only (`grader lint`): nothing was built or started, so the total counts these checks "
    "alone. `grader grade` runs the rest.",
    "Solo las comprobaciones estáticas (`grader lint`): no se construyó ni arrancó nada, así que el total "
    "cuenta solo estas comprobaciones. `grader grade` ejecuta el resto.",
)
_add("report.time", "Time: {phases} (total {total} s)", "Tiempo: {phases} (total {total} s)")
_add("phase.copy", "copy", "copia")
_add("phase.config", "reading the compose file", "lectura del compose")
_add("phase.build", "build", "build")
_add("phase.up", "up", "up")
_add("phase.settle", "services settling", "servicios estabilizándose")
_add("phase.api", "API", "API")
_add("phase.persistence", "down/up cycle", "ciclo down/up")
_add("phase.teardown", "teardown", "limpieza")
_add("report.grader_problem", "Grader problem: {title}", "Problema del calificador: {title}")
_add("report.tip", "Tip: {title}", "Consejo: {title}")
_add("report.tip_line", "Tip: {hint}", "Consejo: {hint}")
_add("report.gradescope_output", "{name}: {score}/{max} points", "{name}: {score}/{max} puntos")
_add("table.grading", "Grading {name}  ({seconds} s)", "Calificando {name}  ({seconds} s)")
_add("table.check", "Check", "Comprobación")
_add("table.result", "Result", "Resultado")
_add("table.points", "Points", "Puntos")
_add("table.feedback", "Feedback", "Devolución")
_add("table.total", "TOTAL", "TOTAL")
_add("table.tip", "tip", "consejo")
_add("table.pass", "PASS", "OK")
_add("progress.static", "reading the files", "leyendo los archivos")
_add("progress.build", "building the images", "construyendo las imágenes")
_add(
    "progress.start",
    "starting, waiting for the services to answer",
    "arrancando, esperando que respondan los servicios",
)
_add(
    "progress.cycle",
    "docker compose down, then up, then the data again",
    "docker compose down, luego up, y se revisan de nuevo los datos",
)
_add("table.fail", "FAIL", "FALLA")
_add("table.error", "ERROR", "ERROR")
_add("table.skip", "SKIP", "OMITIDA")
_add(
    "volume.evidence",
    "{db}: image {image}, data directory {pgdata}",
    "{db}: imagen {image}, directorio de datos {pgdata}",
)
_add("volume.anonymous", "(anonymous)", "(anónimo)")
_add("volume.no_volumes", "no volumes", "sin volúmenes")
_add(
    "services.evidence",
    "services: {services}; app: {app}; database: {db}",
    "servicios: {services}; app: {app}; base de datos: {db}",
)
_add(
    "api.evidence",
    "GET {url} (container port {port}) -> HTTP {status}",
    "GET {url} (puerto de contenedor {port}) -> HTTP {status}",
)

# -- the class's page (grader.classroom.gradebook) --------------------------------------------------------
_add("page.title", "Gradebook", "Calificaciones")
_add("page.title_of", "Gradebook — {name}", "Calificaciones — {name}")
_add("page.students", "{n} students: {summary}.", "{n} estudiantes: {summary}.")
_add("page.students_in_bar", "{n} students", "{n} estudiantes")
_add("page.status_graded", "graded", "calificada")
_add("page.status_incomplete", "incomplete", "incompleta")
_add("page.status_error", "error", "error")
_add("page.mean_median", "mean {mean} %, median {median} %", "promedio {mean} %, mediana {median} %")
_add(
    "page.only_graded",
    "Scores are of graded runs only; an incomplete or failed run is not a grade.",
    "Los puntajes son solo de las ejecuciones calificadas; una incompleta o fallida no es una nota.",
)
_add(
    "page.mixed_rubrics",
    "Graded with {count} different rubrics ({rubrics}): these grades do not compare. "
    "`grader batch --resume` with today's rubric regrades every student graded with another one.",
    "Calificado con {count} rúbricas distintas ({rubrics}): estas notas no se pueden comparar. "
    "`grader batch --resume` con la rúbrica de hoy vuelve a calificar a cada estudiante calificado "
    "con otra.",
)
_add("page.distribution", "Score distribution (% of the maximum)", "Distribución de puntajes (% del máximo)")
_add(
    "page.checks",
    "Each check across the class (graded runs)",
    "Cada comprobación en la clase (ejecuciones calificadas)",
)
_add("page.check", "check", "comprobación")
_add("page.full_marks", "full marks", "con puntaje máximo")
_add("page.mean_share", "mean share of its points", "promedio (% de sus puntos)")
_add("page.students_heading", "Students", "Estudiantes")
_add("page.student", "student", "estudiante")
_add("page.score", "score", "puntaje")
_add("page.status", "status", "estado")
_add("page.source", "source", "origen")
_add("page.version", "commit / content", "commit / contenido")
_add("page.time", "time", "tiempo")
_add(
    "fetch.no_repository",
    "the roster names no repository for this student",
    "la lista no indica ningún repositorio para este estudiante",
)
_add(
    "fetch.no_git",
    "git is not installed on this machine",
    "git no está instalado en esta máquina",
)
_add(
    "fetch.git_slow",
    "git {command} took longer than {seconds} s",
    "git {command} tardó más de {seconds} s",
)
_add(
    "fetch.too_large",
    "the repository has {why}; not graded",
    "el repositorio tiene {why}; no se califica",
)
_add(
    "fetch.over_file",
    "more than {mib} MiB in one file",
    "más de {mib} MiB en un solo archivo",
)
_add(
    "fetch.over_files",
    "more than {files} files and folders",
    "más de {files} archivos y carpetas",
)
_add(
    "fetch.over_bytes",
    "more than {mib} MiB",
    "más de {mib} MiB",
)
_add(
    "fetch.git_failed",
    "git {command} failed: {stderr}",
    "git {command} falló: {stderr}",
)
_add(
    "fetch.transport",
    "{location}: git transport {transport!r} is not allowed (use https, ssh or a path)",
    "{location}: el transporte de git {transport!r} no está permitido (usa https, ssh o una ruta)",
)
_add(
    "fetch.no_such_repository",
    "{location}: no such repository on this machine",
    "{location}: no existe ese repositorio en esta máquina",
)
_add(
    "fetch.dash",
    "{location} {ref}: a repository or ref cannot start with '-' (git would read an option)",
    "{location} {ref}: un repositorio o una referencia no puede empezar con '-' (git lo leería como una opción)",
)
_add(
    "fetch.first_commit",
    " (the first is from {when})",
    " (el primero es del {when})",
)
_add(
    "fetch.after_deadline",
    "no commit at or before the deadline {deadline}{since}",
    "no hay ningún commit hasta la fecha límite {deadline}{since}",
)
_add(
    "fetch.archive_files",
    "{archive}: more than {files} files and folders; not extracted",
    "{archive}: más de {files} archivos y carpetas; no se extrae",
)
_add(
    "fetch.archive_bytes",
    "{archive}: more than {mib} MiB once extracted; not extracted",
    "{archive}: más de {mib} MiB una vez extraído; no se extrae",
)
_add(
    "fetch.unreadable",
    "{archive}: not a readable archive ({error})",
    "{archive}: no es un archivo comprimido legible ({error})",
)
_add(
    "fetch.extract_slow",
    "{archive}: extracting it took longer than {seconds} s",
    "{archive}: extraerlo tardó más de {seconds} s",
)
_add(
    "fetch.extract_memory",
    "{archive}: extracting it took more than {mib} MiB of memory",
    "{archive}: extraerlo usó más de {mib} MiB de memoria",
)
_add(
    "fetch.left_out",
    "left out of {archive} (a link, a device or a path outside it): {name}",
    "omitido de {archive} (un enlace, un dispositivo o una ruta fuera de él): {name}",
)
_add(
    "fetch.left_out_more",
    "... and {count} more left out of {archive}",
    "... y {count} más omitidos de {archive}",
)
_add(
    "fetch.compression",
    "{archive}: {name} uses a compression other than deflate",
    "{archive}: {name} usa una compresión distinta de deflate",
)
_add(
    "batch.fetch_failed",
    "could not fetch the submission: {reason}",
    "no se pudo obtener la entrega: {reason}",
)
_add(
    "batch.stopped",
    "the batch was stopped before this student was graded",
    "el lote se detuvo antes de calificar a este estudiante",
)
_add(
    "batch.no_report",
    "the grader ended with code {code} without a report",
    "el calificador terminó con el código {code} sin un informe",
)
_add(
    "batch.crashed",
    "the batch crashed on this student ({error})",
    "el lote falló con este estudiante ({error})",
)
_add(
    "build.engine_retried",
    "(The first build failed with `{fault}`, the engine's own fault when a layer changes under a build; the grader "
    "built again, and only this build counts.)",
    "(La primera construcción falló con `{fault}`, una falla del propio motor cuando una capa cambia durante una "
    "construcción; el calificador construyó de nuevo, y solo cuenta esta construcción.)",
)

# -- the grading service's student page (grader/service/templates/student.html) ---------------------------
_add("service.title", "Your grading — {assignment}", "Tu calificación — {assignment}")
_add(
    "service.intro",
    "Every push to your repository is graded here; this page is only yours: do not share its link.",
    "Cada push a tu repositorio se califica aquí; esta página es solo tuya: no compartas su enlace.",
)
_add("service.grade", "Your grade: {score}/{max}", "Tu nota: {score}/{max}")
_add(
    "service.no_grade",
    "No grade yet: none of your pushes before the deadline has been graded.",
    "Aún sin nota: ninguno de tus pushes antes de la fecha límite fue calificado.",
)
_add(
    "service.grade_rule",
    "The grade is that of your last push graded before the deadline.",
    "La nota es la de tu último push calificado antes de la fecha límite.",
)
_add("service.deadline", "Deadline: {when}", "Fecha límite: {when}")
_add(
    "service.position",
    "Waiting to be graded: {n} in the queue before you (this page refreshes itself).",
    "Esperando calificación: {n} en la cola antes que tú (esta página se actualiza sola).",
)
_add(
    "service.running",
    "Your push is being graded now (this page refreshes itself).",
    "Tu push se está calificando ahora (esta página se actualiza sola).",
)
_add("service.pushes", "Your pushes", "Tus pushes")
_add("service.commit", "commit", "commit")
_add("service.received", "received", "recibido")
_add("service.status", "status", "estado")
_add(
    "service.late",
    "late: after your deadline; graded, but not your grade",
    "tarde: después de tu fecha límite; calificado, pero no es tu nota",
)
_add("service.push_queued", "waiting", "en espera")
_add("service.push_running", "being graded", "calificándose")
_add("service.push_graded", "graded", "calificado")
_add(
    "service.push_incomplete",
    "incomplete: the machine failed, not your work",
    "incompleto: falló la máquina, no tu trabajo",
)
_add("service.push_error", "not graded (see the report)", "no calificado (mira el informe)")
_add("service.push_cancelled", "cancelled by your instructor", "cancelado por tu docente")
_add(
    "service.push_superseded",
    "not graded: a newer push came before it started, and that one is graded",
    "no calificado: llegó un push más nuevo antes de empezar, y se califica ese",
)
_add("service.report", "Report of the commit {sha}", "Informe del commit {sha}")
_add("service.no_report", "No report yet.", "Aún no hay informe.")
